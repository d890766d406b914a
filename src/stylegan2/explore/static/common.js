"use strict";
// Shared by both views: element lookup, error display, and a renderer that keeps one request in flight.

const $ = (id) => document.getElementById(id);

function showError(message) {
  $("error").textContent = message || "";
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

// Renders only the newest query: while one request is in flight, later ones replace each other,
// so a dragged slider never queues up stale images. body[data-state] is "busy" until the image shown
// matches the last input, then "idle"; img[data-query] names the query the image shows, and
// onShown(query) runs each time a new image is shown (not when a query is refused).
class Renderer {
  constructor(img, onShown = () => {}) {
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
    if (!this.inFlight) this.next();
  }

  async next() {
    const query = this.pending;
    const inputTime = this.inputTime;
    this.pending = null;
    this.inFlight = true;
    try {
      const response = await fetch("/api/render?" + query);
      if (response.ok) {
        const url = URL.createObjectURL(await response.blob());
        const old = this.img.src;
        this.img.src = url;
        await this.img.decode();
        if (old.startsWith("blob:")) URL.revokeObjectURL(old);
        this.img.dataset.query = query;
        this.onShown(query);
        const server = response.headers.get("X-Render-Ms");
        $("timing").textContent = `render ${server} ms, input to image ${(performance.now() - inputTime).toFixed(0)} ms`;
        showError("");
      } else if (response.status !== 409) {  // 409: superseded by a newer request, which is coming
        showError(await errorText(response));
      }
    } catch (err) {
      showError(`the explorer server does not answer (${err.message}); is \`stylegan2 explore\` still running?`);
    }
    this.inFlight = false;
    if (this.pending !== null) this.next();
    else document.body.dataset.state = "idle";
  }
}
