// The agent console: login, the live queue, one ticket's conversation and
// the agent's actions on it. No framework; state lives in `state` and the
// render functions rebuild the parts of the page that depend on it.

import { LiveConnection, api, storeToken, storedToken } from "./api.js";
import { renderTicket, renderTranscript } from "./ticket.js";
import { queueItem, waitingText } from "./view.js";

const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  filter: "open",
  tickets: new Map(), // id -> { ticket, fetchedAt, waiting }
  selectedId: null,
  detail: null,
  busy: new Set(), // ticket actions in flight, e.g. "3/claim"
};

let live = null;
let detailRefresh = null;

// ---------------------------------------------------------------- session

async function start() {
  bindEvents();
  setInterval(updateWaitingTimes, 1000);
  if (!storedToken()) {
    showLogin();
    return;
  }
  try {
    enterApp(await api("GET", "/api/me"));
  } catch (error) {
    if (error.status === 401) storeToken(null);
    showLogin(error.status === 401 ? "" : sentence(error.message));
  }
}

function showLogin(message = "") {
  $("app-view").hidden = true;
  $("session").hidden = true;
  $("login-view").hidden = false;
  showError($("login-error"), message);
  $("login-password").value = "";
  $("login-username").focus();
}

async function login(event) {
  event.preventDefault();
  const username = $("login-username").value.trim();
  const password = $("login-password").value;
  if (!username || !password) {
    showError($("login-error"), "Enter your username and password.");
    return;
  }
  $("login-submit").disabled = true;
  try {
    const result = await api("POST", "/api/login", { username, password });
    storeToken(result.token);
    showError($("login-error"), "");
    $("login-password").value = "";
    enterApp(result.agent);
  } catch (error) {
    const message = error.status === 401 ? "Wrong username or password." : sentence(error.message);
    showError($("login-error"), message);
    $("login-password").select();
  } finally {
    $("login-submit").disabled = false;
  }
}

function enterApp(agent) {
  state.me = agent;
  $("me-name").textContent = agent.display_name;
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  $("session").hidden = false;
  live = new LiveConnection({
    onEvent: handleEvent,
    onPoll: refreshAll,
    onState: showConnection,
    onResync: refreshAll,
  });
  live.start();
  refreshAll();
}

async function logout() {
  try {
    await api("POST", "/api/logout");
  } catch (error) {
    // The token is dropped below either way; an expired one is already gone.
  }
  endSession("");
}

function endSession(message) {
  if (live) live.stop();
  live = null;
  storeToken(null);
  Object.assign(state, { me: null, tickets: new Map(), selectedId: null, detail: null });
  renderQueue();
  renderTicket(state.detail, state.me);
  showBanner("");
  showLogin(message);
}

// Reports an API failure where the agent will see it: an expired session
// ends it, an unreachable service goes in the banner, the rest in `where`.
function report(error, where = $("banner")) {
  if (error.status === 401) {
    endSession("Your session has expired. Please sign in again.");
  } else if (error.status === 0) {
    showBanner("Can't reach the handoff service. Retrying every few seconds\u2026");
  } else {
    showError(where, sentence(error.message));
  }
}

function sentence(message) {
  const text = String(message);
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
}

// ---------------------------------------------------------------- queue

async function refreshAll() {
  await loadQueue();
  if (state.selectedId !== null) await loadDetail(state.selectedId);
}

async function loadQueue() {
  if (!state.me) return;
  const filter = state.filter;
  try {
    const result = await api("GET", `/api/tickets?status=${encodeURIComponent(filter)}`);
    if (!state.me || filter !== state.filter) return;
    const now = Date.now();
    state.tickets = new Map(
      result.tickets.map((ticket) => [ticket.id, { ticket, fetchedAt: now, waiting: customerWaits(ticket) }]),
    );
    showBanner("");
    renderQueue();
  } catch (error) {
    report(error);
  }
}

function matchesFilter(ticket) {
  const mine = ticket.agent && state.me && ticket.agent.id === state.me.id;
  switch (state.filter) {
    case "open":
      return ticket.status === "queued" || ticket.status === "assigned";
    case "queued":
    case "assigned":
      return ticket.status === state.filter;
    case "mine":
      return ticket.status === "assigned" && Boolean(mine);
    case "closed":
      return ticket.status === "closed" || ticket.status === "handed_back";
    default:
      return false;
  }
}

// Whether the customer waits for a person. waiting_s counts from the
// escalation while queued, from the customer's latest unanswered message once
// assigned, and is 0 when answered, but also in the first second of waiting:
// then the message that came with the update, or what was known, decides.
function customerWaits(ticket, known = false, message = null) {
  if (ticket.status === "queued") return true;
  if (ticket.status !== "assigned") return false;
  if (ticket.waiting_s > 0) return true;
  if (message && message.author === "customer") return true;
  if (message && message.author === "agent") return false;
  return known;
}

function upsertTicket(ticket, message = null) {
  if (matchesFilter(ticket)) {
    const known = state.tickets.get(ticket.id);
    const waiting = customerWaits(ticket, known ? known.waiting : false, message);
    state.tickets.set(ticket.id, { ticket, fetchedAt: Date.now(), waiting });
  } else {
    state.tickets.delete(ticket.id);
  }
  renderQueue();
}

// The service's order: highest priority first, then the oldest.
function sortedTickets() {
  return [...state.tickets.values()].sort((a, b) => {
    if (b.ticket.priority !== a.ticket.priority) return b.ticket.priority - a.ticket.priority;
    return Date.parse(a.ticket.created_at) - Date.parse(b.ticket.created_at) || a.ticket.id - b.ticket.id;
  });
}

function waitingSeconds(entry) {
  const elapsed = entry.waiting ? (Date.now() - entry.fetchedAt) / 1000 : 0;
  return entry.ticket.waiting_s + elapsed;
}

function renderQueue() {
  const list = $("queue-list");
  const focusedId = list.contains(document.activeElement) ? document.activeElement.dataset.ticketId : null;
  const entries = sortedTickets();
  list.replaceChildren(
    ...entries.map((entry) =>
      queueItem(entry.ticket, {
        selected: entry.ticket.id === state.selectedId,
        waiting: entry.waiting,
        waitingSeconds: waitingSeconds(entry),
      }),
    ),
  );
  $("queue-count").textContent = String(entries.length);
  $("queue-empty").hidden = entries.length > 0;
  if (focusedId) {
    const again = list.querySelector(`button[data-ticket-id="${CSS.escape(focusedId)}"]`);
    if (again) again.focus();
  }
}

function updateWaitingTimes() {
  for (const span of $("queue-list").querySelectorAll(".waiting")) {
    const entry = state.tickets.get(Number(span.dataset.ticketId));
    if (entry) span.textContent = waitingText(entry.ticket, waitingSeconds(entry), entry.waiting);
  }
}

function onQueueKey(event) {
  // Arrow keys move between tickets; Tab leaves the list.
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const buttons = [...$("queue-list").querySelectorAll("button")];
  const index = buttons.indexOf(document.activeElement);
  if (index === -1) return;
  event.preventDefault();
  const next = buttons[index + (event.key === "ArrowDown" ? 1 : -1)];
  if (next) next.focus();
}

// ---------------------------------------------------------------- ticket

function selectTicket(id) {
  if (state.selectedId !== id) {
    state.selectedId = id;
    state.detail = null;
    showError($("ticket-error"), "");
    $("reply-text").value = "";
    $("note-text").value = "";
  }
  renderQueue();
  loadDetail(id);
}

async function loadDetail(id) {
  try {
    const detail = await api("GET", `/api/tickets/${id}`);
    if (state.selectedId !== id) return;
    setDetail(detail);
  } catch (error) {
    if (state.selectedId !== id) return;
    if (error.status === 404) {
      state.selectedId = null;
      setDetail(null);
      renderQueue();
    }
    report(error, error.status === 404 ? $("banner") : $("ticket-error"));
  }
}

function setDetail(detail) {
  state.detail = detail;
  renderTicket(state.detail, state.me);
}

function scheduleDetailRefresh() {
  clearTimeout(detailRefresh);
  const id = state.selectedId;
  detailRefresh = setTimeout(() => {
    if (state.selectedId === id && id !== null) loadDetail(id);
  }, 150);
}

// Runs one of the agent's ticket actions; a second click or Enter while the
// same action is under way does nothing (the text stays in its box).
async function ticketAction(path, body, onDone) {
  const id = state.selectedId;
  const key = `${id}/${path}`;
  if (id === null || state.busy.has(key)) return;
  state.busy.add(key);
  showError($("ticket-error"), "");
  try {
    const result = await api("POST", `/api/tickets/${id}/${path}`, body);
    if (state.selectedId === id) onDone(result);
  } catch (error) {
    if (state.selectedId === id) await actionFailed(error, path);
    else report(error);
  } finally {
    state.busy.delete(key);
  }
}

async function actionFailed(error, path) {
  if (path === "claim" && error.status === 409) {
    await loadDetail(state.selectedId);
    const owner = state.detail && state.detail.agent ? state.detail.agent.display_name : null;
    showError($("ticket-error"), owner ? `Already claimed by ${owner}.` : sentence(error.message));
    return;
  }
  report(error, $("ticket-error"));
}

function ticketChanged(detail) {
  setDetail(detail);
  upsertTicket(detail);
}

function claim() {
  ticketAction("claim", undefined, (detail) => {
    ticketChanged(detail);
    $("reply-text").focus();
  });
}

function sendText(kind, textarea) {
  const text = textarea.value.trim();
  if (!text) return;
  ticketAction(kind, { text }, (message) => {
    textarea.value = "";
    putMessage(message);
    textarea.focus();
  });
}

function submitOnEnter(event) {
  if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey && !event.isComposing) {
    event.preventDefault();
    event.target.form.requestSubmit();
  }
}

// Adds a message to the open ticket, or replaces it (a reply got delivered).
function putMessage(message) {
  const detail = state.detail;
  if (!detail || message.ticket_id !== detail.id) return;
  const index = detail.messages.findIndex((existing) => existing.id === message.id);
  if (index === -1) detail.messages.push(message);
  else detail.messages[index] = message;
  renderTranscript(detail);
}

// ---------------------------------------------------------------- live updates

function handleEvent(event) {
  if (!event || !event.ticket) return;
  upsertTicket(event.ticket, event.message);
  if (event.ticket.id !== state.selectedId) return;
  if (event.message) putMessage(event.message);
  scheduleDetailRefresh();
}

function showConnection(connection) {
  const node = $("connection");
  node.dataset.state = connection;
  node.textContent = { live: "Live", connecting: "Connecting\u2026", polling: "Reconnecting \u00b7 updating every 5 s" }[connection];
}

// ---------------------------------------------------------------- helpers

function showError(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

function showBanner(message) {
  showError($("banner"), message);
}

function bindEvents() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("queue-filter").addEventListener("change", (event) => {
    state.filter = event.target.value;
    state.tickets = new Map();
    renderQueue();
    loadQueue();
  });
  $("queue-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-ticket-id]");
    if (button) selectTicket(Number(button.dataset.ticketId));
  });
  $("queue-list").addEventListener("keydown", onQueueKey);
  $("claim").addEventListener("click", claim);
  $("handback").addEventListener("click", () => ticketAction("handback", undefined, ticketChanged));
  $("close").addEventListener("click", () => ticketAction("close", undefined, ticketChanged));
  $("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendText("messages", $("reply-text"));
  });
  $("note-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendText("notes", $("note-text"));
  });
  $("reply-text").addEventListener("keydown", submitOnEnter);
  $("note-text").addEventListener("keydown", submitOnEnter);
}

start();
