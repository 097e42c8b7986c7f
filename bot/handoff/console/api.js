// Talking to the handoff service: JSON over HTTP and the live websocket.
// The token lives in sessionStorage, so closing the tab logs the agent out.

const TOKEN_KEY = "handoff.token";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token) {
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

// Calls the API; throws ApiError with the service's message (status 0 when
// the service could not be reached at all).
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = storedToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, "Can't reach the handoff service.");
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  if (!response.ok) {
    const message = data && typeof data.error === "string" ? data.error : `HTTP ${response.status}`;
    throw new ApiError(response.status, message);
  }
  return data;
}

const PING_EVERY_MS = 20000;
const SILENCE_LIMIT_MS = 45000;
const POLL_EVERY_MS = 5000;
const MAX_BACKOFF_MS = 30000;

// Keeps a websocket open to /api/ws with a heartbeat, reconnects with
// exponential backoff, and polls while the socket is down.
//   onEvent(event)   a server event (ticket.created, ticket.updated, message.created)
//   onPoll()         refresh by HTTP; called every 5 s while the socket is down
//   onState(state)   "connecting" | "live" | "polling"
//   onResync()       the socket (re)opened: refetch what may have been missed
export class LiveConnection {
  constructor({ onEvent, onPoll, onState, onResync }) {
    this.handlers = { onEvent, onPoll, onState, onResync };
    this.socket = null;
    this.attempt = 0;
    this.stopped = true;
    this.timers = { ping: null, retry: null, poll: null };
    this.lastHeard = 0;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.retry);
    clearInterval(this.timers.poll);
    this.timers = { ping: null, retry: null, poll: null };
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close(1000, "logout");
    }
  }

  connect() {
    if (this.stopped) return;
    const token = storedToken();
    if (!token) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/api/ws?token=${encodeURIComponent(token)}`;
    this.handlers.onState(this.attempt === 0 ? "connecting" : "polling");
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (error) {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (socket !== this.socket) return;
      this.attempt = 0;
      this.lastHeard = Date.now();
      this.stopPolling();
      this.handlers.onState("live");
      this.handlers.onResync();
      clearInterval(this.timers.ping);
      this.timers.ping = setInterval(() => this.heartbeat(), PING_EVERY_MS);
    });
    socket.addEventListener("message", (message) => {
      if (socket !== this.socket) return;
      this.lastHeard = Date.now();
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (event && event.type !== "pong") this.handlers.onEvent(event);
    });
    socket.addEventListener("close", () => {
      if (socket !== this.socket) return;
      this.socket = null;
      clearInterval(this.timers.ping);
      this.scheduleRetry();
    });
  }

  heartbeat() {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
      // No pong for two pings: the connection is dead even if the OS has not noticed.
      socket.close(4000, "silent");
      return;
    }
    socket.send(JSON.stringify({ type: "ping" }));
  }

  scheduleRetry() {
    if (this.stopped) return;
    this.handlers.onState("polling");
    this.startPolling();
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.attempt);
    this.attempt += 1;
    const jitter = Math.random() * 0.3 * delay;
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.connect(), delay + jitter);
  }

  startPolling() {
    if (this.timers.poll) return;
    this.handlers.onPoll();
    this.timers.poll = setInterval(() => this.handlers.onPoll(), POLL_EVERY_MS);
  }

  stopPolling() {
    clearInterval(this.timers.poll);
    this.timers.poll = null;
  }
}
