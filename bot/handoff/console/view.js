// Rendering: data from the API in, DOM nodes out. Every piece of text that
// came from a customer, an agent or the bot goes in as a text node.

export const REASONS = {
  strong_negative: "Very upset",
  sustained_negative: "Repeatedly negative",
  requested_human: "Asked for a person",
  repeated_fallback: "Bot didn't understand",
};

export const STATUSES = {
  queued: "Waiting",
  assigned: "Assigned",
  handed_back: "Handed back",
  closed: "Closed",
};

const AUTHORS = {
  customer: "Customer",
  bot: "Bot",
  agent: "Agent",
  note: "Note",
  system: "System",
};

// Creates an element. attrs go through setAttribute/properties; children are
// nodes or strings (strings become text nodes, never markup).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function reasonLabel(reason) {
  return REASONS[reason] || String(reason || "Unknown").replace(/_/g, " ");
}

export function statusLabel(status) {
  return STATUSES[status] || String(status || "");
}

export function channelLabel(channel) {
  const name = String(channel || "unknown");
  const known = { rest: "Web", socketio: "Web chat", twilio: "SMS" };
  return known[name] || name.charAt(0).toUpperCase() + name.slice(1);
}

// 42 -> "42 s", 185 -> "3 min", 3900 -> "1 h 5 min", 90000 -> "1 d 1 h".
export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export function formatScore(score) {
  const value = Number(score);
  if (!Number.isFinite(value)) return "";
  return (value > 0 ? "+" : value < 0 ? "\u2212" : "") + Math.abs(value).toFixed(2);
}

export function formatPrice(price, currency) {
  if (price === null || price === undefined) return "\u2014";
  try {
    return new Intl.NumberFormat("en-GB", { style: "currency", currency: currency || "EUR" }).format(price);
  } catch (error) {
    return `${Number(price).toFixed(2)} ${currency || ""}`.trim();
  }
}

function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function sentimentBadge(sentiment) {
  if (!sentiment) return el("span", { className: "sentiment sentiment-none" }, "No sentiment");
  const label = String(sentiment.label);
  return el(
    "span",
    { className: `sentiment sentiment-${label}`, title: `Last message: ${label} ${formatScore(sentiment.score)}` },
    el("span", { className: "dot", "aria-hidden": "true" }),
    `${label} ${formatScore(sentiment.score)}`,
  );
}

// One queue entry: a button that selects the ticket.
export function queueItem(ticket, { selected, waiting, waitingSeconds }) {
  const agent = ticket.agent ? ticket.agent.display_name : null;
  const button = el(
    "button",
    {
      type: "button",
      className: "queue-item",
      dataset: { ticketId: ticket.id },
      "aria-current": selected ? "true" : null,
    },
    el(
      "span",
      { className: "queue-item-top" },
      el("span", { className: `reason reason-${ticket.reason}` }, reasonLabel(ticket.reason)),
      el("span", { className: "priority", title: "Priority (higher is served first)" }, `P${Math.round(ticket.priority)}`),
    ),
    el("span", { className: "preview" }, ticket.preview || ""),
    el(
      "span",
      { className: "queue-item-meta" },
      el("span", { className: "channel" }, channelLabel(ticket.channel)),
      el("span", { className: "waiting", dataset: { ticketId: ticket.id } }, waitingText(ticket, waitingSeconds, waiting)),
      sentimentBadge(ticket.last_sentiment),
    ),
    el(
      "span",
      { className: "queue-item-status" },
      `#${ticket.id} \u00b7 ${statusLabel(ticket.status)}${agent ? ` \u00b7 ${agent}` : ""}`,
    ),
  );
  return el("li", {}, button);
}

export function waitingText(ticket, seconds, waiting) {
  if (waiting) return `waiting ${formatDuration(seconds)}`;
  return ticket.status === "assigned" ? "answered" : "ended";
}

// One transcript line. `sentiment` is the trail point of a customer message.
export function messageItem(message, sentiment) {
  const author = String(message.author);
  let who = AUTHORS[author] || author;
  if ((author === "agent" || author === "note") && message.agent_name) {
    who = `${who} \u00b7 ${message.agent_name}`;
  }
  const head = el(
    "div",
    { className: "message-head" },
    el("span", { className: "author" }, who),
    el("time", { datetime: message.at }, formatTime(message.at)),
  );
  if (sentiment) head.append(sentimentBadge(sentiment));
  if (message.delivered === false) {
    head.append(
      el("span", { className: "undelivered", title: message.delivery_error || null }, "not delivered yet, retrying"),
    );
  }
  return el(
    "li",
    { className: `message message-${author}`, dataset: { messageId: message.id } },
    head,
    el("p", { className: "message-text" }, message.text),
  );
}

// One point of the sentiment trail: a bar whose height is |score|.
export function trailItem(point, index) {
  const label = String(point.label);
  const score = Number(point.score) || 0;
  const bar = el("span", { className: `trail-bar sentiment-${label}`, "aria-hidden": "true" });
  bar.style.setProperty("--strength", String(Math.max(0.15, Math.min(1, Math.abs(score)))));
  return el(
    "li",
    { className: "trail-point", title: point.text || "" },
    bar,
    el("span", { className: "trail-label" }, `${index + 1}. ${label} ${formatScore(score)}`),
    el("span", { className: "trail-text" }, point.text || ""),
  );
}

export function productRow(product) {
  return el(
    "tr",
    {},
    el("td", { className: "sku" }, product.sku),
    el("td", {}, product.title),
    el("td", { className: "num" }, formatPrice(product.price, product.currency)),
  );
}
