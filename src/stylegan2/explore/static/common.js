"use strict";
// Shared by both views: element lookup, messages, previews, and a renderer that keeps one request in flight.

const $ = (id) => document.getElementById(id);

// This tab's id, sent with each render request: the server drops a waiting request only for a newer one from
// the same tab, never for another tab's. Not crypto.randomUUID, which plain http beyond localhost lacks.
const CLIENT_ID = Array.from(crypto.getRandomValues(new Uint32Array(4)), (n) => n.toString(36)).join("");

// Writes `text` into `element` only when it differs: a live region announces every write, even of the same text.
function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

// The polite status line under the image: "rendering...", then what was shown (or what is uploading).
function showStatus(text) {
  setText($("status"), text);
}

// Request parameter -> id of the control that sets it, filled by the view: a message naming a parameter
// ("seed: ... out of range") marks its control invalid and described by the message.
const paramControls = {};

// A refused value that is still being typed is reported once typing pauses for TYPING_PAUSE_MS or the field is left
// (change), not at each keystroke: a half-typed "0-" is not an error yet.
const TYPING_PAUSE_MS = 1000;
const typing = { until: 0, held: null, timer: 0 };

function noteTyping() {
  typing.until = performance.now() + TYPING_PAUSE_MS;
  clearTimeout(typing.timer);
  typing.timer = setTimeout(flushError, TYPING_PAUSE_MS);
}

function flushError() {
  typing.until = 0;
  if (typing.held !== null) writeError(typing.held);
  typing.held = null;
}

// Shows why the last request was refused ("" clears it), in a polite region: the user's own value was refused, the
// page goes on. While a value is typed the message waits (see noteTyping).
function showError(message) {
  if (message && performance.now() < typing.until) {
    typing.held = message;
    return;
  }
  typing.held = null;
  writeError(message || "");
}

function writeError(message) {
  setText($("error"), message);
  const param = message.split(":", 1)[0];
  for (const [name, id] of Object.entries(paramControls)) markInvalid($(id), Boolean(message) && name === param);
}

// aria-invalid and aria-describedby="error" on a control whose value the message refuses, off otherwise (its own
// hints stay in aria-describedby).
function markInvalid(control, invalid) {
  const described = (control.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== "error");
  if (invalid) {
    control.setAttribute("aria-invalid", "true");
    described.push("error");
  } else {
    control.removeAttribute("aria-invalid");
  }
  if (described.length) control.setAttribute("aria-describedby", described.join(" "));
  else control.removeAttribute("aria-describedby");
}

// Shows that an action failed (the server does not answer, an upload was refused; "" clears it), as an alert.
function showFailure(message) {
  setText($("failure"), message || "");
}

function serverGone(err) {
  return `the explorer server does not answer (${err.message}); is the stylegan2 explore command still running?`;
}

// The network's description from /api/info, with the controls enabled and the tab named after the network file;
// null, with the controls left disabled and the failure shown, when the server does not give it.
async function loadInfo() {
  let info;
  try {
    info = await getJSON("/api/info");
  } catch (err) {
    showFailure(err instanceof TypeError ? serverGone(err)  // fetch fails with a TypeError
      : `the explorer server could not describe its network (/api/info: ${err.message}); reload the page, and if ` +
        "this stays, restart stylegan2 explore");
    document.body.dataset.state = "failed";
    return null;
  }
  document.querySelectorAll(".controls fieldset").forEach((fieldset) => { fieldset.disabled = false; });
  document.title = `${info.network_file} - ${document.title}`;
  return info;
}

// A value quoted in a message, cut short: an address can hold anything.
function shown(text) {
  return text.length <= 40 ? text : text.slice(0, 37) + "...";
}

async function errorText(response) {
  try {
    return (await response.json()).error;
  } catch (_) {
    return `${response.status} ${response.statusText}`;
  }
}

async function getJSON(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(await errorText(response));
  return response.json();
}

// Shows a width x height image with its shorter side at the CSS length --preview-side (at most `side` px, less on a
// short screen): enlarged pixels stay sharp squares, a shrunk image is smoothed (sharp squares would alias its fine
// detail into false patterns).
function sizePreview(img, width, height, side) {
  const shorter = Math.min(width, height);
  img.style.width = `calc(var(--preview-side) * ${width / shorter})`;
  img.style.height = `calc(var(--preview-side) * ${height / shorter})`;
  img.classList.toggle("enlarged", shorter < side);
}

// Why `control` cannot hold `value` ("" when it holds it as written), called with `value` just put into it: the
// browser clamps a slider to its range and steps, and empties a select or a number field given something it does
// not offer; a number beyond a field's min and max is held but would be refused.
function refusal(control, value) {
  if (control.type === "range") {
    return value.trim() !== "" && Number(control.value) === Number(value) ? ""
      : `not on the slider, which runs from ${control.min} to ${control.max} in steps of ${control.step}`;
  }
  if (control.tagName === "SELECT") {
    return control.value === value ? "" : `not one of ${[...control.options].map((o) => o.value || "''").join(", ")}`;
  }
  if (control.type === "number") {
    if (control.value !== value) return "not a number";
    const number = Number(value);
    const inRange = number >= Number(control.min) && (control.max === "" || number <= Number(control.max));
    return inRange ? "" : `out of range; use ${control.min}..${control.max}`;
  }
  return "";
}

// Puts an address's settings (#name=value&...) into the controls: `fields` maps each setting to its control's id,
// `defaults` each control's id to the value it shows when the address leaves its setting out, and `refuse` (default
// `refusal`) says why a control cannot hold a value. Returns the address's settings and a message for each one the
// page cannot show as written (that control shows its default), so a bookmark never turns silently into another image.
function restoreControls(hash, fields, defaults, refuse = refusal) {
  const q = new URLSearchParams(hash.replace(/^#/, ""));
  for (const [id, value] of Object.entries(defaults)) $(id).value = value;
  const problems = [];
  for (const name of new Set(q.keys())) {
    const values = q.getAll(name);
    const control = Object.hasOwn(fields, name) ? $(fields[name]) : null;
    if (control === null) {
      problems.push(`${shown(name)}: not a setting of this page; ignored`);
      continue;
    }
    const before = control.value;
    control.value = values[0];
    const why = values.length > 1 ? `given ${values.length} times` : refuse(control, values[0]);
    if (why) {
      control.value = before;
      problems.push(`${name}=${shown(values[0])}: ${why}; showing ${before === "" ? "the default" : before}`);
    }
  }
  return { settings: q, problems };
}

// Shows the address's problems (see restoreControls) under the image, or clears them.
function showAddressProblems(problems) {
  $("address-error").textContent = problems.map((problem) => `address: ${problem}`).join("\n");
}

// Fills the page's description of the image shown (command, notes...) with `describe(found)` from /api/describe's
// answer for `query`; on an error, `describe(null)` empties it first, so that nothing describes another image.
async function describeShown(query, describe) {
  let found;
  try {
    found = await getJSON("/api/describe?" + query);
  } catch (err) {
    describe(null);
    throw err;
  }
  describe(found);
}

// A download link points at `url`, or, with no url, is disabled (before any image is shown).
function setDownload(link, url) {
  if (url) link.href = url;
  else link.removeAttribute("href");
  link.setAttribute("aria-disabled", String(!url));
}

// After this long without an answer to a render, the page says so (and keeps waiting: a large network on a busy CPU
// can take this long, and the answer still comes).
const SLOW_ANSWER_MS = 30000;

// Renders only the newest query: while one request is in flight, later ones replace each other,
// so a dragged slider never queues up stale images. body[data-state] is "busy" until the image shown
// matches the last input, then "idle"; img[data-query] names the query the image shows, and
// onShown(query) runs (and is awaited) each time a new image is shown (not when a query is refused), so
// whatever it fills in (the image's alt text included) describes the image shown before the page is idle again.
// The status line says "rendering..." meanwhile, then "shown: " and the image's alt text.
class Renderer {
  constructor(img, onShown = async () => {}) {
    this.img = img;
    this.onShown = onShown;
    this.pending = null;
    this.inFlight = false;
    this.inputTime = 0;
  }

  request(query) {
    this.pending = query;
    this.inputTime = performance.now();
    document.body.dataset.state = "busy";
    showStatus("rendering...");
    if (!this.inFlight) this.next();
  }

  async next() {
    const query = this.pending;
    const inputTime = this.inputTime;
    this.pending = null;
    this.inFlight = true;
    let slow = false;
    const timer = setTimeout(() => {
      slow = true;
      showFailure(`no answer from the explorer server for ${SLOW_ANSWER_MS / 1000} s: still rendering, or stopped? ` +
                  "The image will be shown when it comes.");
    }, SLOW_ANSWER_MS);
    try {
      const response = await fetch(`/api/render?${query}&client=${CLIENT_ID}`);
      if (response.ok) {
        await this.show(query, response, inputTime);
        showFailure("");
      } else if (response.status !== 409) {  // 409: superseded by this tab's newer request, which is coming
        showError(await errorText(response));
        showFailure("");
      } else if (slow) {
        showFailure("");
      }
    } catch (err) {
      if (err instanceof TypeError) showFailure(serverGone(err));  // fetch fails with a TypeError
      else showError(err.message);
    }
    clearTimeout(timer);
    this.inFlight = false;
    if (this.pending !== null) {
      this.next();
    } else {
      document.body.dataset.state = "idle";
      if (this.img.dataset.query !== query) showStatus("");  // refused: the messages say why
    }
  }

  async show(query, response, inputTime) {
    const url = URL.createObjectURL(await response.blob());
    const old = this.img.src;
    this.img.src = url;
    await this.img.decode();
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    this.img.dataset.query = query;
    await this.onShown(query);
    const server = response.headers.get("X-Render-Ms");
    $("timing").textContent = `render ${server} ms, input to image ${(performance.now() - inputTime).toFixed(0)} ms`;
    showError("");
    if (this.pending === null) showStatus(`shown: ${this.img.alt}`);
  }
}
