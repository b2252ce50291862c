// Debian's headless Chromium through playwright-core, as the browser tests and the dashboard
// benchmark start it (SRMON_CHROMIUM overrides the path). The flags keep it off the network:
// this machine's closed network refuses Chromium's background connections.
import { chromium } from "playwright-core";

export function launch() {
  return chromium.launch({
    executablePath: process.env.SRMON_CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
