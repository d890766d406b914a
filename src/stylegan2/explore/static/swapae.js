"use strict";
// The Swapping Autoencoder view: pick or upload a structure and a texture image, move alpha, see the swap.

const defaults = {};  // control id -> its value before the address is read
// The download, the command and the notes follow the image shown, not the last input: a refused input keeps the
// last image, and all of them keep describing it.
const renderer = new Renderer($("image"), async (query) => {
  setDownload($("download-png"), "/api/image.png?" + query);
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
  $("alpha-value").textContent = $("alpha").value;
  const empty = $("structure").value === "" || $("texture").value === "";
  $("swap-hint").hidden = !empty;
  if (empty) {
    document.body.dataset.state = "idle";
    return;
  }
  const query = currentQuery();
  history.replaceState(null, "", "#" + query);
  $("address-error").textContent = "";  // the address now holds the controls' values
  $("structure-image").src = `/api/swapae/image/${$("structure").value}`;
  $("texture-image").src = `/api/swapae/image/${$("texture").value}`;
  renderer.request(query);
}

function fillImages(names) {
  for (const id of ["structure", "texture"]) {
    const select = $(id);
    const keep = select.value;
    select.replaceChildren(...names.map((name, i) => new Option(`${i}: ${name}`, String(i))));
    if (keep !== "" && Number(keep) < names.length) select.value = keep;
  }
}

// `refusal`, with the image lists' message naming the ids the server holds.
function swapRefusal(control, value) {
  if (control.tagName === "SELECT" && control.value !== value) {
    const count = control.options.length;
    return count ? `no image ${value} here; the explorer holds images 0..${count - 1}`
      : "no images here yet; upload them (an uploaded image lasts while the explorer runs)";
  }
  return refusal(control, value);
}

// Shows the settings of the page's address (#structure=0&texture=1&alpha=0.5): on opening, and when a bookmark or
// pasted address (or Back) changes it in this tab. Image ids hold while the explorer runs.
function openAddress() {
  const fields = { structure: "structure", texture: "texture", alpha: "alpha" };
  const { problems } = restoreControls(location.hash, fields, defaults, swapRefusal);
  update();
  showAddressProblems(problems);
}

async function upload(input, target) {
  const file = input.files[0];
  if (!file) return;
  const form = new FormData();
  form.append("image", file);
  let added, images;
  try {
    const response = await fetch("/api/swapae/upload", { method: "POST", body: form });
    if (!response.ok) {
      showError(await errorText(response));
      return;
    }
    added = await response.json();
    images = (await getJSON("/api/info")).images;
  } catch (err) {
    showError(err instanceof TypeError ? serverGone(err) : err.message);  // fetch fails with a TypeError
    return;
  } finally {
    input.value = "";
  }
  showError("");
  fillImages(images);
  $(target).value = String(added.id);
  if ($("structure").value === "" || $("texture").value === "") {
    for (const id of ["structure", "texture"]) if ($(id).value === "") $(id).value = String(added.id);
  }
  update();
}

async function start() {
  let info;
  try {
    info = await getJSON("/api/info");
  } catch (err) {
    showError(err.message);
    return;
  }
  $("network").textContent = `Swapping Autoencoder, ${info.resolution}x${info.resolution}`;
  for (const id of ["structure-image", "texture-image", "image"]) sizePreview($(id), info.resolution, info.resolution, 160);
  fillImages(info.images);
  if (info.images.length > 1) $("texture").value = "1";
  for (const id of ["structure", "texture", "alpha"]) {
    defaults[id] = $(id).value;
    $(id).addEventListener("input", update);
  }
  $("structure-upload").addEventListener("change", () => upload($("structure-upload"), "structure"));
  $("texture-upload").addEventListener("change", () => upload($("texture-upload"), "texture"));
  window.addEventListener("hashchange", openAddress);  // update() itself changes the address without this event
  openAddress();
}

start();
