/* ci.js: live CI pages (plugin "ci", docs/ci.md "Web pages"). Loaded after the host's mesh.js,
   which follows the page's data-mesh-sse channels and swaps server-rendered sections in
   ("section" events). Here: "log" events append a running job's output to its <pre> as text
   (never as markup), in order by byte offset; a gap, or a job that ended, fetches the job's
   whole stored log instead. No inline script, no innerHTML. */
(function () {
  "use strict";

  var meshApi = window.mesh || {};
  var doFetch = meshApi.fetch || window.fetch.bind(window);
  var page = document.querySelector(".ci-run");
  if (!page) return;
  var base = page.getAttribute("data-log-base");
  var loading = {};

  function pre(job) {
    var all = page.querySelectorAll("pre.ci-log");
    for (var i = 0; i < all.length; i++) {
      if (all[i].getAttribute("data-job") === job) return all[i];
    }
    return null;
  }

  function refetch(job) {
    var el = pre(job);
    if (!el || loading[job]) return;
    loading[job] = true;
    doFetch(base + encodeURIComponent(job), { headers: { Accept: "text/plain" } })
      .then(function (res) {
        if (!res.ok) throw new Error("the server answered " + res.status);
        var len = res.headers.get("X-Mesh-Log-Bytes");
        var complete = res.headers.get("X-Mesh-Log-Complete");
        return res.text().then(function (text) {
          el.textContent = text;
          if (len) el.setAttribute("data-len", len);
          if (complete) el.setAttribute("data-complete", complete);
        });
      })
      .catch(function () {})
      .then(function () {
        loading[job] = false;
      });
  }

  if (meshApi.on) {
    meshApi.on("log", function (text) {
      var ev;
      try {
        ev = JSON.parse(text);
      } catch (e) {
        return;
      }
      var el = pre(ev.job);
      if (!el || el.getAttribute("data-complete") === "true") return;
      var have = Number(el.getAttribute("data-len") || "0");
      if (ev.offset === have && typeof ev.data === "string") {
        el.appendChild(document.createTextNode(ev.data));
        el.setAttribute("data-len", String(ev.end));
        if (el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
      } else if (ev.end > have) {
        refetch(ev.job);
      }
    });
    meshApi.on("state", function (text) {
      var ev;
      try {
        ev = JSON.parse(text);
      } catch (e) {
        return;
      }
      (ev.ended || []).forEach(function (job) {
        var el = pre(job);
        if (el && el.getAttribute("data-complete") !== "true") refetch(job);
      });
    });
  }
})();
