// The dashboard's shell: header with the connection indicator, and the views. One live
// connection per tab (the alert stream, see live.ts).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { login, onUnauthorized } from "./api";
import "./app.css";
import { AlertsView } from "./alerts";
import { FleetView } from "./fleet";
import { MachineView } from "./machine";
import { connect, reconnect, useConnection } from "./live";
import { RulesView } from "./rules";

/// Asked for when API_READ_TOKEN is set: the token goes to the backend once, which answers
/// with an HttpOnly cookie; the field is cleared and nothing is stored in the page.
function Login({ done }: { done: () => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await login(token);
      setToken("");
      done();
    } catch (err) {
      setToken("");
      setError(`Refused: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form id="login" class="login" onSubmit={submit}>
      <h2>Log in</h2>
      <p class="note">This backend needs its read token (API_READ_TOKEN) or the admin token.</p>
      <input
        type="password"
        name="token"
        autocomplete="current-password"
        placeholder="token"
        value={token}
        onInput={(e) => setToken((e.target as HTMLInputElement).value)}
      />
      <button type="submit" disabled={busy || token === ""}>
        Log in
      </button>
      {error ? <p class="error" id="login-error">{error}</p> : null}
    </form>
  );
}

function ConnectionIndicator() {
  const c = useConnection();
  const label = { connecting: "connecting…", live: "live", lost: "disconnected" }[c];
  return (
    <span class={`connection ${c}`} id="connection" data-state={c}>
      {label}
    </span>
  );
}

/// The view the location's hash names: `#/` the fleet, `#/alerts`, `#/rules`, `#/machine/<id>`.
function useRoute(): string {
  const [route, setRoute] = useState(location.hash.replace(/^#/, "") || "/");
  useEffect(() => {
    const changed = () => setRoute(location.hash.replace(/^#/, "") || "/");
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

function App() {
  const route = useRoute();
  const [needLogin, setNeedLogin] = useState(false);
  useEffect(() => onUnauthorized(() => setNeedLogin(true)), []);
  const loggedIn = () => {
    setNeedLogin(false);
    reconnect();
  };
  return (
    <>
      <header>
        <h1>srmon</h1>
        <nav>
          <a href="#/" class={route === "/" ? "on" : ""}>
            Fleet
          </a>
          <a href="#/alerts" class={route === "/alerts" ? "on" : ""} id="nav-alerts">
            Alerts
          </a>
          <a href="#/rules" class={route === "/rules" ? "on" : ""} id="nav-rules">
            Rules
          </a>
        </nav>
        <ConnectionIndicator />
      </header>
      <main>{needLogin ? <Login done={loggedIn} /> : route === "/alerts" ? (
          <AlertsView />
        ) : route === "/rules" ? (
          <RulesView />
        ) : route.startsWith("/machine/") ? (
          <MachineView id={decodeURIComponent(route.slice("/machine/".length))} />
        ) : (
          <FleetView />
        )}</main>
    </>
  );
}

connect();
render(<App />, document.getElementById("app")!);
