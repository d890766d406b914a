"use strict";
// The GAN view: controls -> query string -> rendered image, layer table and equivalent command.

let info = null;
const defaults = {};  // control id -> its value before the address is read
// The downloads, the command and the layer table follow the image shown, not the last input: a refused input
// keeps the last image, and all of them keep describing it.
const renderer = new Renderer($("image"), async (query) => {
  setDownload($("download-png"), "/api/image.png?" + query);
  setDownload($("download-w"), "/api/w.npz?" + query);
  $("image").alt = imageAlt(query);
  await describeShown(query, describe);
});

// The image starts from a seed, or from one of the ws of --projected-w (parameter w); one field holds either.
const startName = () => (info.projected ? "w" : "seed");
const startMax = () => (info.projected ? info.projected - 1 : info.max_seed);
// A network trained on label vectors takes a label (c_dim numbers) in place of a class, for each seed alike.
const takesLabels = () => info.label_kind === "vectors";
const takesClasses = () => info.c_dim > 0 && !takesLabels();

function currentQuery() {
  const q = new URLSearchParams();
  q.set(startName(), $("seed").value.trim());
  q.set("psi", $("psi").value);
  if ($("cutoff").value.trim() !== "") q.set("cutoff", $("cutoff").value.trim());
  if (takesClasses() && $("class").value !== "") q.set("class", $("class").value);
  if (takesLabels()) q.set("label", $("label").value.trim());
  q.set("noise", $("noise").value);
  if ($("mix-on").checked) {
    q.set("mix_seed", $("mix-seed").value.trim());
    q.set("mix_styles", $("mix-styles").value.trim());
    if (!$("mix-class-label").hidden && $("mix-class").value !== "") q.set("mix_class", $("mix-class").value);
    if (!$("mix-label-group").hidden && $("mix-label").value.trim() !== "") q.set("mix_label", $("mix-label").value.trim());
  }
  info.directions.forEach((_, i) => {
    const value = $(`d${i}`).value;
    if (Number(value) !== 0) q.set(`d${i}`, value);
  });
  return q.toString();
}

// What the image of `query` shows, in words, for its alt text and the status line: "seed 7, psi 0.7, direction 1 +1.5".
function imageAlt(query) {
  const q = new URLSearchParams(query);
  const parts = [q.has("w") ? `projected w ${q.get("w")}` : `seed ${q.get("seed")}`];
  if (q.has("class")) parts.push(`${info.draws_labels ? "cluster" : "class"} ${q.get("class")}`);
  if (q.has("label")) parts.push(`label ${q.get("label")}`);
  parts.push(`psi ${q.get("psi")}` + (q.has("cutoff") ? ` on the first ${q.get("cutoff")} styles` : ""));
  if (q.get("noise") !== "const") parts.push(`noise ${q.get("noise")}`);
  if (q.has("mix_seed")) {
    parts.push(`styles ${q.get("mix_styles")} from seed ${q.get("mix_seed")}` +
               (q.has("mix_class") ? ` (class ${q.get("mix_class")})` : "") +
               (q.has("mix_label") ? ` (label ${q.get("mix_label")})` : ""));
  }
  info.directions.forEach((_, i) => {
    const value = q.get(`d${i}`);
    if (value !== null) parts.push(`direction ${i} ${Number(value) > 0 ? "+" : ""}${value}`);
  });
  return parts.join(", ");
}

function update() {
  const query = currentQuery();
  history.replaceState(null, "", "#" + query);
  $("address-error").textContent = "";  // the address now holds the controls' values
  setText($("psi-value"), $("psi").value);
  info.directions.forEach((_, i) => { setText($(`d${i}-value`), $(`d${i}`).value); });
  const mixing = $("mix-on").checked;
  $("mix-seed").disabled = $("mix-styles").disabled = $("mix-class").disabled = $("mix-label").disabled = !mixing;
  if (!$("mix-class-label").hidden) $("mix-class").options[0].textContent = mixClassDefault();
  $("mix-label").placeholder = `the first seed's (${$("label").value.trim()})`;
  $("mix-hint").hidden = mixing;
  renderer.request(query);
}

// Fills the command and the layer table from /api/describe's answer for the image shown (null: empties them).
function describe(found) {
  $("command").textContent = found ? found.commands.join("\n") : "";
  $("command-hint").textContent = found && found.needs_w_file
    ? `Mixing, several directions or one of several projected ws: download the w as ${found.w_file} first.`
    : "";
  const rows = (found ? found.layers : []).map((layer) => {
    const row = document.createElement("tr");
    if (layer.mixed) row.className = "mixed";
    const flags = [layer.truncated ? "truncated" : "", layer.moved ? "moved" : ""].filter(Boolean).join(", ");
    const from = (layer.seed === null ? `projected w ${layer.projected}` : `seed ${layer.seed}`) +
      (layer.class === null ? "" : layer.class_drawn ? `, cluster ${layer.class} (drawn from the seed)` : `, class ${layer.class}`) +
      (layer.label === null ? "" : `, label ${layer.label}`);
    for (const text of [layer.index, layer.layers.join(", "), from, flags]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.appendChild(cell);
    }
    return row;
  });
  $("layers").tBodies[0].replaceChildren(...rows);
}

// What the second seed's class is with mix_class left out, as the server takes it: the first seed's class when one
// is picked; on a network trained on clusters with none picked, a cluster the second seed draws from itself.
function mixClassDefault() {
  return $("class").value === "" ? "drawn from its own seed (as the first seed's is)" : `the first seed's (${$("class").value})`;
}

function addOptions(select, values) {
  select.replaceChildren(...values.map((value) => new Option(value, value)));
}

function buildDirections() {
  $("directions-hint").textContent = info.directions.length
    ? `The ${info.directions.length} directions that change the image most, strongest first; they move ` +
      `styles ${info.direction_layers}. The larger a direction's eigenvalue, the more a step changes the image.`
    : "No directions (the explorer was started with --top-k 0).";
  const rows = info.directions.map((d, i) => {
    const row = document.createElement("div");
    row.className = "direction";
    const name = Object.assign(document.createElement("span"), { className: "name" });
    name.append(
      Object.assign(document.createElement("label"), { htmlFor: `d${i}`, textContent: `Direction ${i}` }),
      Object.assign(document.createElement("span"),
        { className: "hint", id: `d${i}-eigenvalue`, textContent: `eigenvalue ${d.eigenvalue.toFixed(2)}` }));
    const slider = Object.assign(document.createElement("input"),
      { type: "range", id: `d${i}`, min: "-10", max: "10", step: "0.1", value: "0" });
    slider.setAttribute("aria-describedby", `d${i}-eigenvalue`);
    const value = Object.assign(document.createElement("output"), { id: `d${i}-value`, textContent: "0" });
    value.setAttribute("aria-live", "off");  // the slider says its own value
    row.append(name, slider, value);
    return row;
  });
  $("directions").replaceChildren(...rows);
}

// `refusal`, with the class select's message naming the network's classes.
function ganRefusal(control, value) {
  if (control.id === "class" && control.value !== value) {
    return `not a class of this network; use 0..${info.c_dim - 1}` +
      (info.draws_labels ? ", or leave class out to draw one from the seed" : "");
  }
  if (control.id === "mix-class" && control.value !== value) {
    return `not a class of this network; use 0..${info.c_dim - 1}, or leave mix_class out for the first seed's class` +
      (info.draws_labels ? " (with class left out too, the second seed draws its own cluster)" : "");
  }
  return refusal(control, value);
}

// Each setting of the address and of a render request -> the id of its control.
function settingControls() {
  const fields = { [startName()]: "seed", psi: "psi", cutoff: "cutoff", noise: "noise", mix_seed: "mix-seed", mix_styles: "mix-styles" };
  if (takesClasses()) fields.class = "class";
  if (takesClasses() && !info.projected) fields.mix_class = "mix-class";
  if (takesLabels()) fields.label = "label";
  if (takesLabels() && !info.projected) fields.mix_label = "mix-label";
  info.directions.forEach((_, i) => { fields[`d${i}`] = `d${i}`; });
  return fields;
}

// Puts the address's settings (#seed=5&psi=0.7...) into the controls; returns the problems (see restoreControls).
function restore(hash) {
  const { settings, problems } = restoreControls(hash, settingControls(), defaults, ganRefusal);
  $("mix-on").checked = settings.has("mix_seed");
  return problems;
}

// Shows the settings of the page's address: on opening, and when a bookmark or pasted address (or Back) changes
// it in this tab.
function openAddress() {
  const problems = restore(location.hash);
  update();
  showAddressProblems(problems);
}

function stepSeed(delta) {
  const seed = Math.min(startMax(), Math.max(0, (parseInt($("seed").value, 10) || 0) + delta));
  $("seed").value = String(seed);
  update();
}

async function start() {
  info = await loadInfo();
  if (info === null) return;
  $("mix-on").disabled = false;
  $("network").textContent = `${info.width}x${info.height}, ${info.num_ws} styles (ws)` +
    (takesClasses() ? `, ${info.c_dim} ${info.draws_labels ? "clusters" : "classes"}` : "") +
    (takesLabels() ? `, label vectors of ${info.c_dim} numbers` : "") +
    (info.projected ? `, starting from ${info.projected_file}` : "");
  // The image keeps a non-square network's aspect, its shorter side shown at 256 px.
  sizePreview($("image"), info.width, info.height, 256);
  $("seed").max = String(startMax());
  $("mix-seed").max = String(info.max_seed);
  if (info.projected) {
    $("seed-name").textContent = "Projected w";
    $("class-label").firstChild.textContent = "Second seed's class ";  // a projected w holds its own class
    $("label-name").textContent = "Second seed's label";
  }
  if (info.projected === 1) {  // one w to start from: nothing to step to
    for (const id of ["seed-prev", "seed-next", "seed-random"]) {
      $(id).disabled = true;
      $(id).title = `${info.projected_file} holds one w`;
    }
  }
  $("cutoff").max = String(info.num_ws);
  addOptions($("noise"), info.noise_modes);
  if (takesLabels()) {
    $("label").value = Array(info.c_dim).fill(0).join(",");
    $("label-hint").textContent = `This network was trained on label vectors: give ${info.c_dim} numbers separated ` +
      "by commas, as generate --label takes them.";
    $("label-group").hidden = false;
    $("mix-label-group").hidden = Boolean(info.projected);  // from a projected w, the label above is the second seed's
  } else if (info.c_dim) {
    addOptions($("class"), [...Array(info.c_dim).keys()]);
    // A network trained on clusters draws one from the seed unless a cluster is picked.
    if (info.draws_labels) $("class").prepend(new Option("drawn from the seed", "", true, true));
    $("class-label").hidden = false;
    if (!info.projected) {  // from a projected w, the class above is already the second seed's
      addOptions($("mix-class"), [...Array(info.c_dim).keys()]);
      $("mix-class").prepend(new Option(mixClassDefault(), "", true, true));  // its text follows the class, see update()
      $("mix-class-label").hidden = false;
    }
  }
  $("mix-styles").value = info.default_mix_styles;
  $("mix-presets").replaceChildren(...Object.entries(info.mix_presets).map(([name, ws]) => {
    const button = Object.assign(document.createElement("button"), { type: "button", textContent: name, title: `styles ${ws}` });
    button.setAttribute("aria-label", `Mix ${name} styles (${ws})`);
    button.addEventListener("click", () => { $("mix-styles").value = name; $("mix-on").checked = true; update(); });
    return button;
  }));
  buildDirections();
  Object.assign(paramControls, settingControls());
  document.querySelectorAll(".controls input:not([type=checkbox]), .controls select").forEach((el) => {
    defaults[el.id] = el.value;
  });
  document.querySelectorAll(".controls input[type=number], .controls input[type=text]").forEach((el) => {
    el.addEventListener("input", noteTyping);
    el.addEventListener("change", flushError);
  });
  document.querySelectorAll(".controls input, .controls select").forEach((el) => el.addEventListener("input", update));
  $("seed-prev").addEventListener("click", () => stepSeed(-1));
  $("seed-next").addEventListener("click", () => stepSeed(1));
  $("seed-random").addEventListener("click", () => {
    $("seed").value = String(Math.floor(Math.random() * (startMax() + 1)));
    update();
  });
  $("directions-reset").addEventListener("click", () => {
    info.directions.forEach((_, i) => { $(`d${i}`).value = "0"; });
    update();
  });
  window.addEventListener("hashchange", openAddress);  // update() itself changes the address without this event
  openAddress();
}

start();
