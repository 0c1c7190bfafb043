// The model dashboard's picker shows the model its chart draws. The chart resolves what was asked (a
// permaslug[:variant], a public id, or nothing: the report's top model) and names it in its first
// text mark, "key (name)"; the plugin's picker only knows the URL's value, blank when there is none.
// Datasette loads it in the page's head: it waits for the page.
document.addEventListener("DOMContentLoaded", () => {
  if (!/\/-\/dashboards\/model\/?$/.test(location.pathname)) return;
  const picker = document.querySelector(".dashboard-filters #model");
  if (!picker) return;
  const shown = () => document.querySelector("#chart-price_and_revenue svg g.mark-text.role-mark text");
  const follow = () => {
    const text = shown();
    if (!text) return false;
    const key = text.textContent.split(" (")[0];
    const known = picker.tagName !== "SELECT" || [...picker.options].some((option) => option.value === key);
    if (!text.textContent.startsWith("no such model") && known) picker.value = key;
    return true;
  };
  const watcher = new MutationObserver(() => follow() && watcher.disconnect());
  if (!follow()) watcher.observe(document.body, { childList: true, subtree: true });
});
