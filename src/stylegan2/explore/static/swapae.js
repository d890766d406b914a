"use strict";
// The Swapping Autoencoder view: pick or upload a structure and a texture image, move alpha, see the swap.

const defaults = {};  // control id -> its value before the address is read
let issued = 0;  // image ids the server has given out: one below it that is not held was replaced by an upload
const imageNames = {};  // image id -> its file name, for the images' alt text
// The download, the command and the notes follow the image shown, not the last input: a refused input keeps the
// last image, and all of them keep describing it.
const renderer = new Renderer($("image"), async (query) => {
  setDownload($("download-png"), "/api/image.png?" + query);
  const q = new URLSearchParams(query);
  $("image").alt = `swap of ${imageNames[q.get("structure")]} (structure) and ${imageNames[q.get("texture")]} ` +
                   `(texture), alpha ${q.get("alpha")}`;
  await describeShown(query, describe);
});

function currentQuery() {
  const q = new URLSearchParams();
  q.set("structure", $("structure").value);
  q.set("texture", $("texture").value);
  q.set("alpha", $("alpha").value);
  return q.toString();
}

// Fills the command, its hint and the input images' notes from /api/describe's answer (null: empties them).
function describe(found) {
  $("command").textContent = found ? found.commands.join("\n") : "";
  $("command-hint").textContent = found ? found.hint : "";
  $("image-notes").textContent = found ? found.notes.join("\n") : "";
}

function update() {
  setText($("alpha-value"), $("alpha").value);
  const empty = $("structure").value === "" || $("texture").value === "";
  $("swap-hint").hidden = !empty;
  for (const id of ["structure", "texture", "alpha"]) $(id).disabled = empty;  // nothing to pick or move yet
  if (empty) {
    document.body.dataset.state = "idle";
    return;
  }
  const query = currentQuery();
  history.replaceState(null, "", "#" + query);
  $("address-error").textContent = "";  // the address now holds the controls' values
  for (const slot of ["structure", "texture"]) {
    $(`${slot}-image`).src = `/api/swapae/image/${$(slot).value}`;
    $(`${slot}-image`).alt = `${slot}: ${imageNames[$(slot).value]}`;
  }
  renderer.request(query);
}

// Fills both image lists from /api/info's answer (images: [{id, name}], by id); a list keeps its choice while that
// image is held. Ids may have gaps: an upload that replaced an old one has a new id, never the old one's.
function fillImages(info) {
  const images = info.images;
  issued = info.issued;
  for (const image of images) imageNames[image.id] = image.name;
  for (const id of ["structure", "texture"]) {
    const select = $(id);
    const keep = select.value;
    select.replaceChildren(...images.map((image) => new Option(`${image.id}: ${image.name}`, String(image.id))));
    if (images.some((image) => String(image.id) === keep)) select.value = keep;
  }
}

// Ids as ranges, [0, 1, 2, 5] -> "0-2,5", as the server names them.
function idRanges(ids) {
  const parts = [];
  for (const id of ids) {
    const last = parts[parts.length - 1];
    if (last && last[1] === id - 1) last[1] = id;
    else parts.push([id, id]);
  }
  return parts.map(([first, last]) => (first === last ? `${first}` : `${first}-${last}`)).join(",");
}

// `refusal`, with the image lists' message naming the ids the server holds.
function swapRefusal(control, value) {
  if (control.tagName === "SELECT" && control.value !== value) {
    const ids = [...control.options].map((option) => Number(option.value));
    const replaced = /^[0-9]+$/.test(value) && Number(value) < issued
      ? " (a newer upload replaced it: the explorer keeps at most 64 images)" : "";
    return ids.length ? `no image ${value} here${replaced}; the explorer holds images ${idRanges(ids)}`
      : "no images here yet; upload them (the explorer keeps them while it runs, at most 64)";
  }
  return refusal(control, value);
}

// Shows the settings of the page's address (#structure=0&texture=1&alpha=0.5): on opening, and when a bookmark or
// pasted address (or Back) changes it in this tab. An image id names the same image while the explorer runs, or
// none once a newer upload replaced it.
function openAddress() {
  const fields = { structure: "structure", texture: "texture", alpha: "alpha" };
  const { problems } = restoreControls(location.hash, fields, defaults, swapRefusal);
  update();
  showAddressProblems(problems);
}

// Sends the file chosen in `input` and shows it in the list `target`. Meanwhile the status says so and the picker
// does not open (aria-disabled, not disabled, which would take the keyboard focus away from it).
async function upload(input, target) {
  const file = input.files[0];
  if (!file) return;
  const form = new FormData();
  form.append("image", file);
  input.setAttribute("aria-disabled", "true");
  showStatus(`uploading ${file.name}...`);
  let added, held;
  try {
    const response = await fetch("/api/swapae/upload", { method: "POST", body: form });
    if (!response.ok) {
      showFailure(await errorText(response));
      showStatus("");
      return;
    }
    added = await response.json();
    held = await getJSON("/api/info");
  } catch (err) {
    showFailure(err instanceof TypeError ? serverGone(err) : err.message);  // fetch fails with a TypeError
    showStatus("");
    return;
  } finally {
    input.value = "";
    input.removeAttribute("aria-disabled");
  }
  showFailure("");
  showStatus(`uploaded ${added.name}`);
  fillImages(held);
  $(target).value = String(added.id);
  if ($("structure").value === "" || $("texture").value === "") {
    for (const id of ["structure", "texture"]) if ($(id).value === "") $(id).value = String(added.id);
  }
  update();
}

async function start() {
  const info = await loadInfo();
  if (info === null) return;
  $("network").textContent = `Swapping Autoencoder, ${info.resolution}x${info.resolution}`;
  for (const id of ["structure-image", "texture-image", "image"]) sizePreview($(id), info.resolution, info.resolution, 160);
  fillImages(info);
  if (info.images.length > 1) $("texture").value = String(info.images[1].id);
  for (const id of ["structure", "texture", "alpha"]) {
    defaults[id] = $(id).value;
    paramControls[id] = id;
    $(id).addEventListener("input", update);
  }
  for (const id of ["structure-upload", "texture-upload"]) {
    $(id).addEventListener("click", (event) => {  // an upload in progress: no second one from this picker
      if ($(id).hasAttribute("aria-disabled")) event.preventDefault();
    });
  }
  $("structure-upload").addEventListener("change", () => upload($("structure-upload"), "structure"));
  $("texture-upload").addEventListener("change", () => upload($("texture-upload"), "texture"));
  window.addEventListener("hashchange", openAddress);  // update() itself changes the address without this event
  openAddress();
}

start();
