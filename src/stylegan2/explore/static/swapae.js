"use strict";
// The Swapping Autoencoder view: pick or upload a structure and a texture image, move alpha, see the swap.

// The download follows the image shown, not the last input: a refused input keeps the last image.
const renderer = new Renderer($("image"), async (query) => { setDownload($("download-png"), "/api/image.png?" + query); });

function currentQuery() {
  const q = new URLSearchParams();
  q.set("structure", $("structure").value);
  q.set("texture", $("texture").value);
  q.set("alpha", $("alpha").value);
  return q.toString();
}

function update() {
  $("alpha-value").textContent = $("alpha").value;
  const empty = $("structure").value === "" || $("texture").value === "";
  $("swap-hint").hidden = !empty;
  if (empty) {
    document.body.dataset.state = "idle";
    return;
  }
  $("structure-image").src = `/api/swapae/image/${$("structure").value}`;
  $("texture-image").src = `/api/swapae/image/${$("texture").value}`;
  renderer.request(currentQuery());
}

function fillImages(names) {
  for (const id of ["structure", "texture"]) {
    const select = $(id);
    const keep = select.value;
    select.replaceChildren(...names.map((name, i) => new Option(`${i}: ${name}`, String(i))));
    if (keep !== "" && Number(keep) < names.length) select.value = keep;
  }
}

async function upload(input, target) {
  const file = input.files[0];
  if (!file) return;
  $("upload-note").textContent = "";
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
  $("upload-note").textContent = added.note ? `${added.name}: ${added.note}` : "";
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
  for (const id of ["structure", "texture", "alpha"]) $(id).addEventListener("input", update);
  $("structure-upload").addEventListener("change", () => upload($("structure-upload"), "structure"));
  $("texture-upload").addEventListener("change", () => upload($("texture-upload"), "texture"));
  update();
}

start();
