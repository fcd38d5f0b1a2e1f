// Groceries: state in localStorage, mirrored in window.appState for scenario checks.
// List page: swipe a row left to delete it, long-press a row for its actions (mark urgent).
// Add page: type a name and press "Add to list"; the system Back button returns to the list.
"use strict";

const STORE = "groceries_items";
const SEED = [{ name: "Milk", urgent: false }, { name: "Eggs", urgent: false }, { name: "Bread", urgent: false }];
const LONG_PRESS_MS = 500;
const SWIPE_DELETE_PX = 80;

function load() {
  const raw = localStorage.getItem(STORE);
  return raw ? JSON.parse(raw) : SEED.map((item) => ({ ...item }));
}

function save(items, event) {
  localStorage.setItem(STORE, JSON.stringify(items));
  window.appState.items = items;
  if (event) window.appState.events.push(event);
}

window.appState = { items: load(), events: [] };

function renderList() {
  const list = document.getElementById("list");
  if (!list) return;
  const items = load();
  window.appState.items = items;
  list.replaceChildren(...items.map((item) => {
    const row = document.createElement("li");
    row.dataset.name = item.name;
    row.textContent = item.name;
    if (item.urgent) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "urgent";
      row.append(badge);
    }
    attachGestures(row);
    return row;
  }));
}

function attachGestures(row) {
  let start = null;
  let timer = null;
  const cancelTimer = () => { clearTimeout(timer); timer = null; };
  row.addEventListener("touchstart", (e) => {
    const t = e.touches[0];
    start = { x: t.clientX, y: t.clientY, dx: 0, longPressed: false };
    timer = setTimeout(() => { if (start) { start.longPressed = true; openSheet(row.dataset.name); } }, LONG_PRESS_MS);
  }, { passive: true });
  row.addEventListener("touchmove", (e) => {
    if (!start) return;
    const t = e.touches[0];
    start.dx = t.clientX - start.x;
    if (Math.hypot(start.dx, t.clientY - start.y) > 10) cancelTimer();
    if (Math.abs(start.dx) > Math.abs(t.clientY - start.y)) row.style.transform = `translateX(${Math.min(0, start.dx)}px)`;
  }, { passive: true });
  row.addEventListener("touchend", (e) => {
    cancelTimer();
    if (!start) return;
    const { dx, longPressed } = start;
    start = null;
    if (longPressed) { e.preventDefault(); return; }
    if (dx < -SWIPE_DELETE_PX) { remove(row); return; }
    row.style.transform = "";
  });
}

function remove(row) {
  row.classList.add("removing");
  const name = row.dataset.name;
  save(load().filter((item) => item.name !== name), `removed ${name}`);
  setTimeout(renderList, 160);
}

function openSheet(name) {
  const sheet = document.getElementById("sheet");
  sheet.dataset.name = name;
  document.getElementById("sheet-title").textContent = name;
  sheet.classList.add("open");
}

function closeSheet() {
  document.getElementById("sheet").classList.remove("open");
}

function markUrgent() {
  const name = document.getElementById("sheet").dataset.name;
  save(load().map((item) => (item.name === name ? { ...item, urgent: true } : item)), `urgent ${name}`);
  closeSheet();
  renderList();
}

function addItem() {
  const input = document.getElementById("item-name");
  const name = input.value.trim();
  if (!name) return;
  save([...load(), { name, urgent: false }], `added ${name}`);
  input.value = "";
  document.getElementById("added").textContent = `Added ✓ ${name}`;
}

window.addEventListener("pageshow", renderList);
document.addEventListener("DOMContentLoaded", () => {
  renderList();
  document.getElementById("urgent")?.addEventListener("click", markUrgent);
  document.getElementById("cancel")?.addEventListener("click", closeSheet);
  document.getElementById("add")?.addEventListener("click", addItem);
});
