/* board.js: the issues board and issue pages (plugin "issues", docs/issues.md "The board").
   Loaded after the host's mesh.js (CSRF header on fetch, mesh.on for server-sent events) and,
   on the board, Sortable.js. No inline script and no innerHTML with data: server-rendered
   parts are swapped in from a DOMParser document, everything else goes in as text.
   - drag and drop (Sortable.js) and Alt+arrow keys move cards; a move is one POST with the
     card it now follows (or precedes) and, between columns, the new state or label;
   - label chips and the text box filter the cards at once (and the address keeps them);
   - an "issues" event for this repo (another node, another tab) refreshes the page's live
     parts without a reload. */
(function () {
  "use strict";

  var meshApi = window.mesh || {};
  var doFetch = meshApi.fetch || window.fetch.bind(window);

  function onEvent(name, fn) {
    if (meshApi.on) meshApi.on(name, fn);
  }

  function say(text) {
    var live = document.getElementById("issues-live");
    if (live) live.textContent = text;
  }

  function postJson(url, body) {
    return doFetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then(function (res) {
      return res
        .json()
        .catch(function () {
          return {};
        })
        .then(function (data) {
          if (!res.ok) throw new Error(data.error || "the server answered " + res.status);
          return data;
        });
    });
  }

  // The current page again, parsed inertly; fn(doc) takes the parts it wants.
  function reload(fn) {
    return doFetch(location.pathname + location.search, { headers: { Accept: "text/html" } })
      .then(function (res) {
        if (!res.ok) throw new Error("the server answered " + res.status);
        return res.text();
      })
      .then(function (html) {
        fn(new DOMParser().parseFromString(html, "text/html"));
      });
  }

  function swap(doc, id) {
    var fresh = doc.getElementById(id);
    var old = document.getElementById(id);
    if (!fresh || !old) return null;
    old.replaceChildren.apply(old, Array.prototype.slice.call(fresh.childNodes));
    if (meshApi.updateTimes) meshApi.updateTimes(old);
    if (meshApi.armForms) meshApi.armForms(old);
    return old;
  }

  // Calls fn at most once per `ms`, and once more after the last call.
  function debounce(fn, ms) {
    var timer = null;
    return function () {
      if (timer) clearTimeout(timer);
      timer = setTimeout(function () {
        timer = null;
        fn();
      }, ms);
    };
  }

  // ---- the board ----

  function initBoard(board) {
    var repo = board.getAttribute("data-repo");
    var base = board.getAttribute("data-base");
    var columnLabels = (board.getAttribute("data-columns") || "").split(",").filter(Boolean);
    var params = new URLSearchParams(location.search);
    var filter = { label: params.get("label") || "", q: params.get("q") || "" };
    var sortables = [];
    var dragging = false;
    var stale = false;
    var search = document.getElementById("issues-q");

    function cards(list) {
      return Array.prototype.slice.call(list.querySelectorAll(".issues-card"));
    }
    function visible(card) {
      return !card.hidden;
    }
    function lists() {
      return Array.prototype.slice.call(board.querySelectorAll("ol.issues-cards"));
    }

    function applyFilters() {
      var q = filter.q.toLowerCase();
      lists().forEach(function (list) {
        var shown = 0;
        cards(list).forEach(function (card) {
          var labels = (card.getAttribute("data-labels") || "").split(",");
          var ok =
            (!filter.label || labels.indexOf(filter.label) >= 0) &&
            (!q || (card.getAttribute("data-search") || "").indexOf(q) >= 0);
          card.hidden = !ok;
          if (ok) shown++;
        });
        var count = list.closest(".issues-column").querySelector("[data-count]");
        if (count) count.textContent = String(shown);
      });
      board.querySelectorAll("#issues-chips [data-chip]").forEach(function (chip) {
        chip.classList.toggle("active", chip.getAttribute("data-chip") === filter.label);
      });
    }

    function keepInAddress() {
      var p = new URLSearchParams(location.search);
      ["label", "q"].forEach(function (k) {
        if (filter[k]) p.set(k, filter[k]);
        else p.delete(k);
      });
      var s = p.toString();
      history.replaceState(null, "", location.pathname + (s ? "?" + s : ""));
    }

    function setLabel(label) {
      filter.label = filter.label === label ? "" : label;
      keepInAddress();
      applyFilters();
      say(filter.label ? "Showing cards labelled " + filter.label : "Showing all labels");
    }

    board.addEventListener("click", function (e) {
      var chip = e.target.closest("[data-chip]");
      if (!chip || !board.contains(chip)) return;
      e.preventDefault();
      setLabel(chip.getAttribute("data-chip"));
    });

    if (search) {
      search.addEventListener("input", function () {
        filter.q = search.value;
        keepInAddress();
        applyFilters();
      });
      search.form.addEventListener("submit", function (e) {
        e.preventDefault();
      });
    }

    // What a card's new place means: the card it follows (or, first in its column, the one it
    // precedes) and, in another column, the state or labels of that column.
    function placeOf(card, fromList) {
      var list = card.parentNode;
      var body = {};
      var prev = card.previousElementSibling;
      while (prev && !visible(prev)) prev = prev.previousElementSibling;
      var next = card.nextElementSibling;
      while (next && !visible(next)) next = next.nextElementSibling;
      if (prev) body.after = prev.getAttribute("data-id");
      else if (next) body.before = next.getAttribute("data-id");
      if (list !== fromList) {
        var to = list.closest(".issues-column");
        if (columnLabels.length) {
          var label = to.getAttribute("data-label") || "";
          body.add_labels = label ? [label] : [];
          body.remove_labels = columnLabels.filter(function (l) {
            return l !== label;
          });
        } else {
          body.state = to.getAttribute("data-state");
        }
      }
      return body;
    }

    function moved(card, fromList) {
      var body = placeOf(card, fromList);
      var ref = card.getAttribute("data-ref");
      if (!body.after && !body.before && !body.state && !body.add_labels) return;
      card.classList.add("issues-saving");
      postJson(base + "/" + card.getAttribute("data-id") + "/move", body)
        .then(function () {
          card.classList.remove("issues-saving");
          var where = body.state ? " to " + body.state : body.add_labels ? " to its new column" : "";
          say("Moved " + ref + where);
        })
        .catch(function (err) {
          say("Could not move " + ref + ": " + err.message);
          refresh();
        });
    }

    function bindSortables() {
      sortables.forEach(function (s) {
        s.destroy();
      });
      sortables = [];
      if (typeof window.Sortable !== "function") return;
      lists().forEach(function (list) {
        sortables.push(
          new window.Sortable(list, {
            group: "issues-" + repo,
            animation: 120,
            draggable: ".issues-card",
            ghostClass: "issues-ghost",
            onStart: function () {
              dragging = true;
            },
            onEnd: function (e) {
              dragging = false;
              if (e.from !== e.to || e.oldIndex !== e.newIndex) moved(e.item, e.from);
              if (stale) refresh();
            },
          }),
        );
      });
    }

    board.addEventListener("keydown", function (e) {
      var card = e.target.closest && e.target.closest(".issues-card");
      if (!card || e.target !== card) return;
      if (e.key === "Enter") {
        var link = card.querySelector("a.issues-card-title");
        if (link) location.href = link.href;
        return;
      }
      if (!e.altKey) return;
      var list = card.parentNode;
      var all = lists();
      var at = all.indexOf(list);
      if (e.key === "ArrowUp" || e.key === "ArrowDown") {
        var step = e.key === "ArrowUp" ? "previousElementSibling" : "nextElementSibling";
        var other = card[step];
        while (other && !visible(other)) other = other[step];
        if (!other) return;
        list.insertBefore(card, e.key === "ArrowUp" ? other : other.nextSibling);
      } else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
        var to = all[at + (e.key === "ArrowLeft" ? -1 : 1)];
        if (!to) return;
        var first = cards(to).filter(visible)[0];
        to.insertBefore(card, first || null);
      } else {
        return;
      }
      e.preventDefault();
      card.focus();
      moved(card, list);
    });

    function refresh() {
      stale = false;
      var focused = document.activeElement && document.activeElement.closest
        ? document.activeElement.closest(".issues-card")
        : null;
      var focusId = focused ? focused.getAttribute("data-id") : null;
      return reload(function (doc) {
        if (dragging) {
          stale = true;
          return;
        }
        swap(doc, "issues-chips");
        swap(doc, "issues-totals");
        swap(doc, "issues-columns");
        bindSortables();
        applyFilters();
        if (focusId) {
          var again = board.querySelector('.issues-card[data-id="' + focusId + '"]');
          if (again) again.focus();
        }
        board.setAttribute("data-refreshed", String(Date.now()));
      }).catch(function (err) {
        say("Could not refresh the board: " + err.message);
      });
    }
    var soon = debounce(refresh, 150);

    onEvent("issues", function (data) {
      var msg = JSON.parse(data);
      if (msg.repo !== repo) return;
      if (dragging) stale = true;
      else soon();
    });

    bindSortables();
    applyFilters();
    board.setAttribute("data-ready", "1");
  }

  // ---- an issue page ----

  function initIssuePage(page) {
    var repo = page.getAttribute("data-repo");
    var id = page.getAttribute("data-issue");
    var soon = debounce(function () {
      reload(function (doc) {
        if (swap(doc, "issues-thread")) page.setAttribute("data-refreshed", String(Date.now()));
      }).catch(function (err) {
        say("Could not refresh the issue: " + err.message);
      });
    }, 150);
    onEvent("issues", function (data) {
      var msg = JSON.parse(data);
      if (msg.repo === repo && (!msg.issue || msg.issue === id)) soon();
    });
    page.setAttribute("data-ready", "1");
  }

  function start() {
    var board = document.getElementById("issues-board");
    if (board) initBoard(board);
    var page = document.getElementById("issues-page");
    if (page) initIssuePage(page);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
