#include "web_board.hpp"

#include <map>

#include "status.hpp"
#include "web_assets.hpp"

namespace mesh::issues {
namespace json = boost::json;
namespace {

constexpr std::size_t kMaxFields = 64;
constexpr const char* kBoardScripts = "/assets/sortable.js /assets/issues/board.js";
constexpr const char* kIssueScripts = "/assets/issues/board.js";

// A form (application/x-www-form-urlencoded) or a JSON object of strings and string arrays.
using Fields = std::map<std::string, std::vector<std::string>>;

bool is_json(const WebRequest& r) {
  return r.content_type.starts_with("application/json");
}

bool parse_fields(const WebRequest& r, Fields* out, std::string* error) {
  if (is_json(r)) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object()) return *error = "the body is not a JSON object", false;
    for (const auto& [k, x] : v.as_object()) {
      if (out->size() >= kMaxFields) return *error = "too many fields", false;
      auto& slot = (*out)[std::string(k)];
      if (x.is_string()) {
        slot.emplace_back(x.as_string());
      } else if (x.is_array()) {
        for (const auto& e : x.as_array()) {
          if (!e.is_string()) return *error = std::string(k) + ": a list of strings", false;
          if (slot.size() >= kMaxFields) return *error = "too many values", false;
          slot.emplace_back(e.as_string());
        }
      } else {
        return *error = std::string(k) + ": a string or a list of strings", false;
      }
    }
    return true;
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  if (!parse_params(r.body, kMaxFields, &pairs)) {
    return *error = "the form is malformed or has too many fields", false;
  }
  for (auto& [k, v] : pairs) (*out)[k].push_back(std::move(v));
  return true;
}

const std::string* field(const Fields& f, const std::string& key) {
  auto it = f.find(key);
  return it == f.end() || it->second.empty() ? nullptr : &it->second.front();
}

// "a, b,c" (labels never contain commas) and repeated fields, trimmed, empty parts dropped.
std::vector<std::string> list(const Fields& f, const std::string& key) {
  std::vector<std::string> out;
  auto it = f.find(key);
  if (it == f.end()) return out;
  for (const auto& v : it->second) {
    std::size_t from = 0;
    while (from <= v.size()) {
      std::size_t comma = v.find(',', from);
      std::string part =
          v.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
      from = comma == std::string::npos ? v.size() + 1 : comma + 1;
      auto b = part.find_first_not_of(" \t");
      auto e = part.find_last_not_of(" \t");
      if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
    }
  }
  return out;
}

WebResponse raw(std::uint32_t status, std::string content_type, std::string body) {
  WebResponse r;
  r.page = false;
  r.status = status;
  r.headers = fragment_headers(std::move(content_type));
  r.body = std::move(body);
  return r;
}

WebResponse json_reply(std::uint32_t status, const json::object& o) {
  return raw(status, "application/json", json::serialize(o));
}

WebResponse redirect(const std::string& to) {
  WebResponse r = raw(303, "text/plain; charset=utf-8", "see " + to + "\n");
  r.headers.emplace_back("Location", to);
  return r;
}

std::uint32_t status_for(const std::string& error) {
  return error.rfind("no issue", 0) == 0 ? 404 : 400;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> fragment_headers(std::string content_type) {
  return {{"Content-Type", std::move(content_type)},
          {"Cache-Control", "no-store"},
          {"X-Content-Type-Options", "nosniff"},
          {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"}};
}

bool WebBoard::render(const std::string& tmpl, const json::object& ctx, std::string* out,
                      std::string* error) {
  auto t = web_asset(tmpl);
  if (!t) return *error = "no template " + tmpl, false;
  return r_.render(*t, json::serialize(ctx), out, error);
}

std::string WebBoard::markdown(std::string_view text, const std::string& repo) {
  std::string html;
  if (r_.markdown(text, "/repos/" + url_encode(repo) + "/", &html)) return html;
  // No renderer on this host: the text as it was written, escaped.
  std::string out = "<p class=\"issues-plain\">";
  for (char c : html_escape(text)) out += c == '\n' ? std::string("<br>") : std::string(1, c);
  return out + "</p>";
}

WebResponse WebBoard::page(std::uint32_t status, const std::string& title, const std::string& repo,
                           const std::string& tmpl, const json::object& ctx,
                           const std::string& scripts) {
  WebResponse r;
  std::string error;
  if (!render(tmpl, ctx, &r.body_html, &error)) {
    return raw(501, "text/plain; charset=utf-8",
               "the issues board cannot be shown by this daemon: " + error + "\n");
  }
  r.status = status;
  r.title = title;
  r.repo = repo;
  r.scripts = scripts;
  return r;
}

WebResponse WebBoard::message(std::uint32_t status, const std::string& repo,
                              const std::string& heading, const std::string& text,
                              const std::vector<Link>& links) {
  return page(status, heading, repo, "message.mustache",
              message_context(repo, heading, text, links), "");
}

bool WebBoard::render_columns(const std::string& repo, const BoardQuery& q, std::string* html,
                              std::string* error) {
  NameOf names = [this](std::string_view id) { return s_.name_of(id); };
  json::object ctx = s_.read([&](const Board& b) { return columns_context(b, repo, q, names); });
  return render("columns.mustache", ctx, html, error);
}

bool WebBoard::render_board(const std::string& repo, const BoardQuery& q, std::string* html,
                            std::string* error) {
  std::string columns;
  if (!render_columns(repo, q, &columns, error)) return false;
  json::object ctx =
      s_.read([&](const Board& b) { return board_context(b, repo, q, std::move(columns)); });
  return render("board.mustache", ctx, html, error);
}

WebResponse WebBoard::handle(const WebRequest& req) {
  if (auto p = check_repo(req.repo)) return message(400, "", "Invalid repo name", p->message);
  if (!a_.known_repo(req.repo)) {
    return message(404, "", "No repo " + req.repo,
                   "This node has no repo " + req.repo + " (and no issues for it).",
                   {{"All repos", "/"}});
  }
  if (req.method == "GET" || req.method == "HEAD") {
    if (req.id.empty()) return board(req);
    if (req.id == "new" && req.action.empty()) return new_form(req.repo, "", "", "", "", 200);
    if (!req.action.empty()) return message(405, req.repo, "Not here", "Use the issue's forms.");
    return issue(req.repo, req.id, "", 200);
  }
  if (req.method != "POST") return raw(405, "text/plain; charset=utf-8", "method not allowed\n");
  if (req.id.empty()) return create(req);
  return act(req);
}

WebResponse WebBoard::board(const WebRequest& req) {
  BoardQuery q = parse_board_query(req.query);
  std::string html, error;
  if (!render_board(req.repo, q, &html, &error)) {
    return raw(501, "text/plain; charset=utf-8",
               "the issues board cannot be shown by this daemon: " + error + "\n");
  }
  WebResponse r;
  r.title = "Issues · " + req.repo;
  r.repo = req.repo;
  r.body_html = std::move(html);
  r.scripts = kBoardScripts;
  return r;
}

WebResponse WebBoard::issue(const std::string& repo, const std::string& id,
                            const std::string& flash, std::uint32_t status) {
  NameOf names = [this](std::string_view origin) { return s_.name_of(origin); };
  struct Found {
    bool ok = false;
    Problem problem;
    std::vector<Link> candidates;
    IssueView view;
    std::vector<std::string> labels;
  };
  Found f = s_.read([&](const Board& b) {
    Found x;
    Resolved r = resolve(b, repo, id);
    const Repo* rp = b.repo(repo);
    if (!r.issue || !rp) {
      x.problem = r.problem;
      if (rp && r.problem.reason == "ambiguous") {
        for (const Issue* i : board_order(*rp)) {
          std::string ref = display_ref(*rp, *i);
          if (ref.starts_with("#" + id + "-") || ref.starts_with(id + "-")) {
            x.candidates.push_back({ref + " " + i->title.value, issue_path(repo, ref)});
          }
        }
      }
      return x;
    }
    x.ok = true;
    x.view = view_of(*rp, *r.issue, true);
    x.labels = repo_labels(*rp);
    return x;
  });
  if (!f.ok) {
    f.candidates.push_back({"Back to the board", board_base(repo)});
    return message(f.problem.reason == "ambiguous" ? 300 : 404, repo, "No such issue",
                   f.problem.message, f.candidates);
  }
  // Outside the lock: markdown is rendered by the host.
  json::object thread =
      thread_context(f.view, names, [&](std::string_view text) { return markdown(text, repo); });
  std::string thread_html, error;
  if (!render("thread.mustache", thread, &thread_html, &error)) {
    return raw(501, "text/plain; charset=utf-8", error + "\n");
  }
  json::object ctx = issue_context(f.view, f.labels, std::move(thread_html), flash);
  return page(status, f.view.ref + " " + f.view.title + " · " + repo, repo, "issue.mustache", ctx,
              kIssueScripts);
}

WebResponse WebBoard::new_form(const std::string& repo, const std::string& title,
                               const std::string& body, const std::string& labels,
                               const std::string& flash, std::uint32_t status) {
  return page(status, "New issue · " + repo, repo, "new.mustache",
              new_issue_context(repo, title, body, labels, flash), kIssueScripts);
}

WebResponse WebBoard::create(const WebRequest& req) {
  Fields f;
  std::string error;
  bool js = is_json(req);
  if (!parse_fields(req, &f, &error)) {
    return js ? json_reply(400, {{"error", error}}) : message(400, req.repo, "Bad form", error);
  }
  std::string title = field(f, "title") ? *field(f, "title") : "";
  std::string body = field(f, "body") ? *field(f, "body") : "";
  std::string labels_text = field(f, "labels") ? *field(f, "labels") : "";
  ActionResult r = a_.create(req.repo, title, body, list(f, "labels"));
  if (!r.ok) {
    if (js) return json_reply(400, {{"error", r.error}});
    return new_form(req.repo, title, body, labels_text, r.error, 400);
  }
  WebResponse w;
  w.wait_seq = r.last_seq;
  std::string repo = req.repo;
  w.finish = [this, r, repo, js](const Taken& t) {
    if (t.taken && t.outcome == Outcome::refused) {
      return js ? json_reply(409, {{"error", t.problem.message}})
                : message(409, repo, "Refused", t.problem.message);
    }
    std::string ref = s_.read([&](const Board& b) -> std::string {
      const Issue* i = b.issue(r.id);
      return i ? display_ref(*b.repo(repo), *i) : r.id;
    });
    if (js) {
      return json_reply(201, {{"ok", true},
                              {"id", r.id},
                              {"num", r.num},
                              {"ref", ref},
                              {"href", issue_path(repo, ref)}});
    }
    return redirect(issue_path(repo, ref));
  };
  return w;
}

WebResponse WebBoard::act(const WebRequest& req) {
  Fields f;
  std::string error;
  bool js = is_json(req);
  auto fail = [&](std::uint32_t status, const std::string& why) {
    return js ? json_reply(status, {{"error", why}}) : issue(req.repo, req.id, why, status);
  };
  if (!parse_fields(req, &f, &error)) return fail(400, error);
  ActionResult r;
  const std::string& a = req.action;
  if (a == "comment") {
    r = a_.comment(req.repo, req.id, field(f, "body") ? *field(f, "body") : "");
  } else if (a == "edit") {
    std::optional<std::string> title, body;
    if (const auto* t = field(f, "title")) title = *t;
    if (const auto* b = field(f, "body")) body = *b;
    r = a_.edit(req.repo, req.id, title, body);
  } else if (a == "state") {
    const std::string* s = field(f, "state");
    if (!s || (*s != "open" && *s != "closed")) return fail(400, "state is open or closed");
    r = a_.set_state(req.repo, req.id, *s == "open" ? State::open : State::closed);
  } else if (a == "labels") {
    r = a_.labels(req.repo, req.id, list(f, "add"), list(f, "remove"));
  } else if (a == "assignees") {
    r = a_.assignees(req.repo, req.id, list(f, "add"), list(f, "remove"));
  } else if (a == "move") {
    Drop d;
    if (const auto* t = field(f, "before")) d.place = Place::before, d.target = *t;
    if (const auto* t = field(f, "after")) {
      if (d.place) return fail(400, "give one of before and after");
      d.place = Place::after;
      d.target = *t;
    }
    if (const auto* s = field(f, "state")) {
      if (*s != "open" && *s != "closed") return fail(400, "state is open or closed");
      d.state = *s == "open" ? State::open : State::closed;
    }
    d.add_labels = list(f, "add_labels");
    d.remove_labels = list(f, "remove_labels");
    r = a_.drop(req.repo, req.id, d);
  } else {
    return fail(404, "no action " + a.substr(0, 32));
  }
  if (!r.ok) return fail(status_for(r.error), r.error);
  std::string repo = req.repo, id = r.id;
  auto done = [this, repo, id, js](const Taken& t) {
    if (t.taken && t.outcome == Outcome::refused) {
      return js ? json_reply(409, {{"error", t.problem.message}})
                : issue(repo, id, "refused: " + t.problem.message, 409);
    }
    if (js) return json_reply(200, {{"ok", true}, {"taken", t.taken}});
    std::string ref = s_.read([&](const Board& b) -> std::string {
      const Issue* i = b.issue(id);
      return i ? display_ref(*b.repo(repo), *i) : id;
    });
    return redirect(issue_path(repo, ref));
  };
  if (r.last_seq == 0) return done(Taken{true, Outcome::applied, {}});
  WebResponse w;
  w.wait_seq = r.last_seq;
  w.finish = done;
  return w;
}

}  // namespace mesh::issues
