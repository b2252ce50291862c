// The dashboard's shell: header with the connection indicator, and the views. One live
// connection per tab (the alert stream, see live.ts).
import { render } from "preact";
import "./app.css";
import { FleetView } from "./fleet";
import { connect, useConnection } from "./live";

function ConnectionIndicator() {
  const c = useConnection();
  const label = { connecting: "connecting…", live: "live", lost: "disconnected" }[c];
  return (
    <span class={`connection ${c}`} id="connection" data-state={c}>
      {label}
    </span>
  );
}

function App() {
  return (
    <>
      <header>
        <h1>srmon</h1>
        <nav>
          <a href="#/" class="on">
            Fleet
          </a>
        </nav>
        <ConnectionIndicator />
      </header>
      <main>
        <FleetView />
      </main>
    </>
  );
}

connect();
render(<App />, document.getElementById("app")!);
