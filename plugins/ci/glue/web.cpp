#include "web.hpp"

#include <boost/json.hpp>

#include "ci_assets.hpp"
#include "cli_text.hpp"
#include "duration.hpp"
#include "ids.hpp"
#include "names.hpp"
#include "text.hpp"

namespace mesh::ci {
namespace json = boost::json;
namespace {

constexpr std::size_t kRunsShown = 100;

std::string state_class(std::string_view state) {
  if (state == "passed") return "passed";
  if (state == "running") return "running";
  if (state == "failed" || state == "no-runner") return "failed";
  if (state == "cancelled" || state == "skipped") return "cancelled";
  return "queued";
}

std::string short_ref(const std::string& ref) {
  std::string_view b = branch_of(ref);
  if (!b.empty()) return std::string(b);
  return ref.starts_with("refs/tags/") ? ref.substr(10) : ref;
}

std::string run_duration(const RunState& r) {
  std::uint64_t start = 0, end = 0;
  for (const auto& j : r.jobs) {
    if (j.started_ms && (!start || j.started_ms < start)) start = j.started_ms;
    end = std::max(end, j.ended_ms);
  }
  if (!start) return "-";
  if (!is_terminal(r.phase)) return "running";
  if (end < start) return "-";
  std::uint64_t ms = end - start;
  return ms < 1000 ? "<1s" : format_duration(ms - ms % 1000);
}

std::string job_took(const JobState& j) {
  if (!j.started_ms || j.ended_ms < j.started_ms)
    return j.phase == JobPhase::running ? "running" : "";
  std::uint64_t ms = j.ended_ms - j.started_ms;
  return ms < 1000 ? "<1s" : format_duration(ms - ms % 1000);
}

// Log bytes as text for a page: valid UTF-8, no control characters but \n and \t (a terminal's
// escape sequences show as '?').
std::string page_text(const std::string& raw) {
  return clean_text(raw, raw.size() + 16);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string_view CiWeb::asset(std::string_view name) {
  const ci_assets::File* f = ci_assets::find(name);
  return f ? f->data() : std::string_view();
}

std::string CiWeb::repo_channel(const std::string& repo) {
  return "ci/" + lower(repo);
}

std::string CiWeb::run_channel(const std::string& run) {
  return "ci/run/" + run;
}

bool CiWeb::render(const char* name, const std::string& ctx, std::string* out) {
  const ci_assets::File* f = ci_assets::find(name);
  if (!f) return false;
  std::string err;
  if (!s_.env.render(f->data(), ctx, out, &err)) {
    s_.log(Level::warn, std::string("cannot render ") + name + ": " + err);
    return false;
  }
  return true;
}

std::string CiWeb::runs_table(const std::string& repo) {
  json::array runs;
  for (const RunState* r : s_.book.runs()) {
    if (r->spec.repo != repo) continue;
    json::object o;
    o["id"] = r->id;
    o["short"] = short_run_id(r->id);
    o["href"] = "/repos/" + repo + "/ci/" + r->id;
    o["state"] = to_string(r->phase);
    o["state_class"] = state_class(to_string(r->phase));
    o["ref"] = short_ref(r->spec.ref);
    o["sha"] = r->spec.sha.substr(0, 12);
    o["trigger"] = r->spec.trigger;
    o["runner"] = r->assignee().empty() ? "-" : s_.name_of(r->assignee());
    o["duration"] = run_duration(*r);
    o["created_ms"] = r->created_ms;
    o["created"] = age(r->created_ms, s_.now_ms());
    o["reason"] = r->phase == RunPhase::passed ? "" : r->reason;
    runs.push_back(std::move(o));
    if (runs.size() >= kRunsShown) break;
  }
  json::object ctx{{"empty", runs.empty()}, {"runs", std::move(runs)}};
  std::string out;
  render("runs_table.mustache", json::serialize(ctx), &out);
  return out;
}

std::string CiWeb::run_head(const RunState& r) {
  json::array re;
  for (std::size_t i = 1; i < r.attempts.size(); ++i)
    re.push_back(
        json::object{{"number", r.attempts[i].number}, {"reason", r.attempts[i].reassign_reason}});
  json::object ctx{{"short", short_run_id(r.id)},
                   {"state", to_string(r.phase)},
                   {"state_class", state_class(to_string(r.phase))},
                   {"reason", r.phase == RunPhase::passed ? "" : r.reason},
                   {"ref", short_ref(r.spec.ref)},
                   {"sha", r.spec.sha},
                   {"pipeline", r.spec.pipeline.empty() ? "-" : r.spec.pipeline},
                   {"trigger", r.spec.trigger},
                   {"runner", r.assignee().empty() ? "-" : s_.name_of(r.assignee())},
                   {"attempt", r.attempt_number()},
                   {"created_ms", r.created_ms},
                   {"created", age(r.created_ms, s_.now_ms())},
                   {"originator", s_.name_of(r.originator)},
                   {"reassigned", std::move(re)}};
  std::string out;
  render("run_head.mustache", json::serialize(ctx), &out);
  return out;
}

std::string CiWeb::jobs_table(const RunState& r) {
  json::array jobs;
  for (const auto& j : r.jobs) {
    jobs.push_back(json::object{{"name", j.name},
                                {"mode", j.mode},
                                {"state", to_string(j.phase)},
                                {"state_class", state_class(to_string(j.phase))},
                                {"exit", j.exit_code ? std::to_string(*j.exit_code) : "-"},
                                {"took", job_took(j)},
                                {"reason", j.phase == JobPhase::passed ? "" : j.reason}});
  }
  std::string out;
  render("jobs_table.mustache", json::serialize(json::object{{"jobs", std::move(jobs)}}), &out);
  return out;
}

WebOut CiWeb::error_page(int status, const std::string& repo, const std::string& text) {
  WebOut w;
  w.status = status;
  w.page = true;
  w.title = "CI";
  w.repo = valid_repo_name(repo) ? repo : "";
  // The message goes through the renderer too, so it is escaped like everything else.
  std::string err;
  if (!s_.env.render("<div class=\"flash-error\">{{text}}</div>",
                     json::serialize(json::object{{"text", text}}), &w.body_html, &err))
    w.body_html = "<div class=\"flash-error\">error</div>";
  return w;
}

WebOut CiWeb::runs(const std::string& repo) {
  if (!valid_repo_name(repo)) return error_page(404, "", "no such repo");
  std::lock_guard lock(s_.mu);
  s_.refresh_members();
  std::size_t count = 0;
  for (const RunState* r : s_.book.runs()) count += r->spec.repo == repo;
  if (count == 0 && !s_.git.exists(repo))
    return error_page(404, repo, "no repo " + repo + " on this node");
  json::object ctx{{"repo", repo},
                   {"channel", repo_channel(repo)},
                   {"count", count},
                   {"table", runs_table(repo)}};
  WebOut w;
  w.page = true;
  w.title = "CI · " + repo;
  w.repo = repo;
  if (!render("runs.mustache", json::serialize(ctx), &w.body_html))
    return error_page(500, repo, "the page could not be rendered");
  return w;
}

WebOut CiWeb::run(const std::string& repo, const std::string& id) {
  if (!valid_repo_name(repo) || !valid_run_prefix(id)) return error_page(404, repo, "no such run");
  std::lock_guard lock(s_.mu);
  s_.refresh_members();
  auto found = s_.book.find_prefix(id);
  if (found.size() != 1 || found[0]->spec.repo != repo)
    return error_page(
        404, repo,
        found.size() > 1 ? "run " + id + " is ambiguous" : "no run " + id + " in " + repo);
  const RunState& r = *found[0];
  json::array logs;
  for (const auto& j : read_logs(s_, live_, r, {})) {
    logs.push_back(
        json::object{{"name", j.name},
                     {"log", page_text(j.log)},
                     {"len", j.log.size()},
                     {"complete", j.complete && is_terminal(j.phase) ? "true" : "false"}});
  }
  json::object ctx{{"id", r.id},
                   {"channel", run_channel(r.id)},
                   {"log_base", "/repos/" + repo + "/ci/" + r.id + "/log/"},
                   {"runs_href", "/repos/" + repo + "/ci"},
                   {"cancel_href", "/repos/" + repo + "/ci/" + r.id + "/cancel"},
                   {"cancellable", !is_terminal(r.phase) && !r.cancel},
                   {"head", run_head(r)},
                   {"jobs", jobs_table(r)},
                   {"logs", std::move(logs)}};
  WebOut w;
  w.page = true;
  w.title = "CI run " + short_run_id(r.id) + " · " + repo;
  w.repo = repo;
  w.scripts = "/assets/ci/ci.js";
  if (!render("run.mustache", json::serialize(ctx), &w.body_html))
    return error_page(500, repo, "the page could not be rendered");
  return w;
}

WebOut CiWeb::log(const std::string& repo, const std::string& id, const std::string& job) {
  WebOut w;
  std::lock_guard lock(s_.mu);
  const RunState* r = valid_run_id(id) ? s_.book.find(id) : nullptr;
  if (!r || r->spec.repo != repo || !r->job(job)) {
    w.status = 404;
    w.body = "no such run or job\n";
    return w;
  }
  auto jobs = read_logs(s_, live_, *r, job);
  w.body = page_text(jobs.at(0).log);
  w.headers = {
      {"X-Mesh-Log-Bytes", std::to_string(jobs[0].log.size())},
      {"X-Mesh-Log-Complete", jobs[0].complete && is_terminal(jobs[0].phase) ? "true" : "false"},
      {"Cache-Control", "no-store"},
      {"X-Content-Type-Options", "nosniff"}};
  return w;
}

WebOut CiWeb::cancel(const std::string& repo, const std::string& id) {
  WebOut w;
  std::lock_guard lock(s_.mu);
  const RunState* r = valid_run_id(id) ? s_.book.find(id) : nullptr;
  if (!r || r->spec.repo != repo) {
    w.status = 404;
    w.body = "no such run\n";
    return w;
  }
  if (!is_terminal(r->phase) && !r->cancel)
    s_.publish(Record{r->id, CancelRequested{"cancelled by " + s_.self_name + " (web page)"}});
  w.status = 303;
  w.headers = {{"Location", "/repos/" + repo + "/ci/" + r->id}};
  return w;
}

void CiWeb::section(const std::string& channel, const char* id, const std::string& html) {
  if (html.empty()) return;
  std::string data = json::serialize(json::object{{"id", id}, {"html", html}});
  if (data.size() <= 64 * 1024) s_.env.sse(channel, "section", data);
}

void CiWeb::live(const LiveChunk& c) {
  std::string data = json::serialize(json::object{{"job", c.job},
                                                  {"offset", c.offset},
                                                  {"end", c.offset + c.data.size()},
                                                  {"data", page_text(c.data)}});
  if (data.size() > 64 * 1024)  // escaping made it too large: the page fetches the log
    data = json::serialize(
        json::object{{"job", c.job}, {"offset", c.offset}, {"end", c.offset + c.data.size()}});
  s_.env.sse(run_channel(c.run), "log", data);
}

void CiWeb::segment(const std::string& id) {
  const RunState* r = s_.book.find(id);
  if (!r) return;
  json::array ended;
  for (const auto& j : r->jobs) {
    if (is_terminal(j.phase)) ended.emplace_back(j.name);
  }
  s_.env.sse(run_channel(id), "state", json::serialize(json::object{{"ended", std::move(ended)}}));
}

void CiWeb::flush() {
  for (const auto& id : dirty_runs_) {
    const RunState* r = s_.book.find(id);
    if (!r) continue;
    section(run_channel(id), "ci-head", run_head(*r));
    section(run_channel(id), "ci-jobs", jobs_table(*r));
  }
  for (const auto& repo : dirty_repos_) section(repo_channel(repo), "ci-runs", runs_table(repo));
  dirty_runs_.clear();
  dirty_repos_.clear();
}

}  // namespace mesh::ci
