/* mesh.js: the UI's own script, loaded by the layout on every page (no inline script anywhere:
   the Content-Security-Policy allows script from 'self' only).
   - CSRF: same-origin state-changing fetch() calls get the X-Mesh-Csrf header, POST forms a
     hidden `csrf` field, both from <meta name="mesh-csrf">.
   - Live updates: one EventSource on /events for the channels named by data-mesh-sse
     attributes in the page; mesh.on(event, fn) listens (fn gets the event's data text).
   - <time data-mesh-ms="<epoch ms>"> shows "12s ago", kept fresh every second.
   - Core events on channel "node": "peers" (the peers table and the header indicator) and
     "section" ({"id","html"}: replaces the content of [data-mesh-section="<id>"], or adds
     such a box to the page's [data-mesh-sections] list when there is none yet).
   docs/web.md describes the contract. */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var root = document.documentElement;
  var meta = document.querySelector('meta[name="mesh-csrf"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var SAFE_METHODS = { GET: true, HEAD: true, OPTIONS: true };

  function sameOrigin(url) {
    try {
      return new URL(url, location.href).origin === location.origin;
    } catch (e) {
      return false;
    }
  }

  // ---- CSRF ----

  var nativeFetch = window.fetch.bind(window);
  function meshFetch(input, init) {
    init = Object.assign({}, init || {});
    var isRequest = typeof Request !== "undefined" && input instanceof Request;
    var method = String(init.method || (isRequest ? input.method : "GET")).toUpperCase();
    var url = isRequest ? input.url : String(input);
    if (!SAFE_METHODS[method] && sameOrigin(url)) {
      var headers = new Headers(init.headers || (isRequest ? input.headers : undefined));
      headers.set("X-Mesh-Csrf", csrf);
      init.headers = headers;
      init.credentials = init.credentials || "same-origin";
    }
    return nativeFetch(input, init);
  }
  window.fetch = meshFetch;

  function armForms(scope) {
    scope.querySelectorAll("form").forEach(function (form) {
      var method = (form.getAttribute("method") || "get").toUpperCase();
      if (SAFE_METHODS[method] || !sameOrigin(form.action)) return;
      var field = form.querySelector('input[name="csrf"]');
      if (!field) {
        field = document.createElement("input");
        field.type = "hidden";
        field.name = "csrf";
        form.appendChild(field);
      }
      field.value = csrf;
    });
  }

  // ---- relative times ----

  function ago(ms) {
    var s = Math.floor(ms / 1000);
    if (s < 1) return "just now";
    if (s < 60) return s + "s ago";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m ago";
    var h = Math.floor(m / 60);
    if (h < 48) return h + "h ago";
    return Math.floor(h / 24) + "d ago";
  }

  function updateTimes(scope) {
    (scope || document).querySelectorAll("time[data-mesh-ms]").forEach(function (t) {
      var at = Number(t.getAttribute("data-mesh-ms"));
      if (!(at > 0)) return;
      t.textContent = ago(Date.now() - at);
      var when = new Date(at);
      t.setAttribute("datetime", when.toISOString());
      t.title = when.toLocaleString();
    });
  }

  // ---- server-sent events ----

  var listeners = {};
  var attached = {};
  var source = null;
  var retryTimer = null;

  function dispatch(event, e) {
    (listeners[event] || []).forEach(function (fn) {
      try {
        fn(e.data, e);
      } catch (err) {
        console.error("mesh: a listener for " + event + " failed:", err);
      }
    });
  }

  function attach(event) {
    if (!source || attached[event]) return;
    attached[event] = true;
    source.addEventListener(event, function (e) {
      dispatch(event, e);
    });
  }

  function on(event, fn) {
    (listeners[event] = listeners[event] || []).push(fn);
    attach(event);
  }

  function channels() {
    var seen = {};
    var out = [];
    document.querySelectorAll("[data-mesh-sse]").forEach(function (el) {
      el.getAttribute("data-mesh-sse")
        .split(/\s+/)
        .forEach(function (ch) {
          if (ch && !seen[ch]) {
            seen[ch] = true;
            out.push(ch);
          }
        });
    });
    return out;
  }

  function setLive(state) {
    root.setAttribute("data-mesh-live", state);
    root.classList.toggle("mesh-offline", state !== "open");
  }

  function connect() {
    var list = channels();
    if (!list.length) return;
    var query = list
      .map(function (ch) {
        return "ch=" + encodeURIComponent(ch);
      })
      .join("&");
    attached = {};
    source = new EventSource("/events?" + query);
    setLive("connecting");
    source.onopen = function () {
      setLive("open");
    };
    source.onerror = function () {
      // The browser retries by itself (the server's retry: hint) unless the stream was refused
      // (e.g. 503 when too many are open): then try again later ourselves.
      setLive("offline");
      if (source.readyState === EventSource.CLOSED && !retryTimer) {
        retryTimer = setTimeout(function () {
          retryTimer = null;
          connect();
        }, 10000);
      }
    };
    Object.keys(listeners).forEach(attach);
  }

  // ---- the peers indicator and table (channel "node", event "peers") ----

  function svg(name, attrs) {
    var el = document.createElementNS(SVG_NS, name);
    Object.keys(attrs).forEach(function (k) {
      el.setAttribute(k, String(attrs[k]));
    });
    return el;
  }

  // The same picture as the server's peers_svg (core/web/src/svg.cpp).
  function peersIndicator(up, total) {
    var dots = Math.min(total, 50);
    var more = total > 50;
    var width = Math.max(dots * 10 + (more ? 10 : 0), 10);
    var label = total === 0 ? "no peers" : up + " of " + total + " peers up";
    var el = svg("svg", {
      class: "peers-indicator",
      width: width,
      height: 10,
      viewBox: "0 0 " + width + " 10",
      role: "img",
      "aria-label": label,
    });
    var title = svg("title", {});
    title.textContent = label;
    el.appendChild(title);
    if (total === 0) el.appendChild(svg("circle", { class: "none", cx: 5, cy: 5, r: 3 }));
    for (var i = 0; i < dots; i++) {
      el.appendChild(svg("circle", { class: i < up ? "up" : "down", cx: i * 10 + 5, cy: 5, r: 4 }));
    }
    if (more) {
      var x = dots * 10 + 5;
      el.appendChild(svg("path", { class: "more", d: "M" + (x - 3) + " 5h6M" + x + " 2v6" }));
    }
    return el;
  }

  function cell(text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    if (text !== undefined) td.textContent = text;
    return td;
  }

  // Mirrors partials/node_peers.mustache; every string goes in as text, never as markup.
  function peerRow(p) {
    var tr = document.createElement("tr");
    var st = p.state === "up" ? "up" : "down";
    tr.className = "peer peer-" + st;
    tr.setAttribute("data-peer-id", p.id || "");
    tr.appendChild(cell(p.name || ""));
    tr.appendChild(cell(st));
    var seenCell = cell();
    if (p.last_seen_ms > 0) {
      var t = document.createElement("time");
      t.setAttribute("data-mesh-ms", String(p.last_seen_ms));
      seenCell.appendChild(t);
    } else {
      var never = document.createElement("span");
      never.className = "muted";
      never.textContent = "never";
      seenCell.appendChild(never);
    }
    tr.appendChild(seenCell);
    tr.appendChild(cell((p.addresses || []).join(", "), "mono"));
    var id = String(p.id || "");
    var idCell = cell(id.indexOf("mesh:") === 0 ? id.substr(5, 12) : id.substr(0, 12), "mono");
    idCell.title = id;
    tr.appendChild(idCell);
    return tr;
  }

  function renderPeers(msg) {
    var up = Number(msg.up) || 0;
    var total = Number(msg.total) || 0;
    var status = document.getElementById("peers-status");
    if (status) {
      var old = status.querySelector("svg.peers-indicator");
      var fresh = peersIndicator(up, total);
      if (old) status.replaceChild(fresh, old);
      else status.insertBefore(fresh, status.firstChild);
      var count = status.querySelector(".peers-count");
      if (count) count.textContent = up + "/" + total + " peers up";
    }
    var counter = document.getElementById("peers-up-count");
    if (counter) counter.textContent = up + "/" + total;
    var body = document.getElementById("peers-body");
    if (!body || !Array.isArray(msg.peers)) return;
    var rows = msg.peers.map(peerRow);
    if (!rows.length) {
      var tr = document.createElement("tr");
      tr.className = "empty";
      var td = cell("No teammates yet.", "muted");
      td.colSpan = 5;
      tr.appendChild(td);
      rows.push(tr);
    }
    body.replaceChildren.apply(body, rows);
    updateTimes(body);
  }

  on("peers", function (data) {
    renderPeers(JSON.parse(data));
  });

  // Server-rendered fragments (escaped by the server's templates). Parsed inertly: scripts in
  // a DOMParser document never run, and the CSP would refuse inline ones anyway.
  on("section", function (data) {
    var msg = JSON.parse(data);
    if (typeof msg.id !== "string" || typeof msg.html !== "string") return;
    var target = null;
    document.querySelectorAll("[data-mesh-section]").forEach(function (el) {
      if (el.getAttribute("data-mesh-section") === msg.id) target = el;
    });
    if (!target) {
      // A plugin whose section appeared after the page was rendered (it started later): the
      // node page's section list gets a new box for it.
      var list = document.querySelector("[data-mesh-sections]");
      if (!list || msg.html === "") return;
      target = document.createElement("section");
      target.className = "box plugin-section";
      target.setAttribute("data-mesh-section", msg.id);
      list.appendChild(target);
    }
    var doc = new DOMParser().parseFromString(msg.html, "text/html");
    target.replaceChildren.apply(target, Array.prototype.slice.call(doc.body.childNodes));
    updateTimes(target);
    armForms(target);
  });

  window.mesh = {
    csrf: csrf,
    fetch: meshFetch,
    on: on,
    ago: ago,
    updateTimes: updateTimes,
    armForms: armForms,
  };

  function start() {
    armForms(document);
    updateTimes(document);
    setInterval(updateTimes, 1000);
    connect();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
