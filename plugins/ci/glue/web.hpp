// The CI web pages (docs/ci.md, "Web pages"), loopback only, in the node's layout:
//   GET  /repos/{repo}/ci                 runs of the repo, newest first, state and duration
//   GET  /repos/{repo}/ci/{run}           a run: its facts, each job's state, each job's log
//   GET  /repos/{repo}/ci/{run}/log/{job} one job's log as text (what the page fetches)
//   POST /repos/{repo}/ci/{run}/cancel    cancel (CSRF-checked by the host), back to the run
// Live: server-sent events on channel ci/<repo> (the runs table as a "section") and
// ci/run/<run id> (the head and jobs sections, "log" chunks of running jobs, "state" when
// stored logs complete); ci.js appends the chunks as text.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "logs.hpp"
#include "shared.hpp"

namespace mesh::ci {

struct WebOut {
  int status = 200;
  bool page = false;  // a page in the node's layout; otherwise a plain response
  std::string title, repo, body_html, scripts;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class CiWeb {
 public:
  CiWeb(Shared& s, LiveLogs& live) : s_(s), live_(live) {}

  // (lock not held)
  WebOut runs(const std::string& repo);
  WebOut run(const std::string& repo, const std::string& run);
  WebOut log(const std::string& repo, const std::string& run, const std::string& job);
  WebOut cancel(const std::string& repo, const std::string& run);

  // (lock held) A run changed: its sections are sent again at the next flush().
  void changed(const RunState& run) {
    dirty_runs_.insert(run.id);
    dirty_repos_.insert(run.spec.repo);
  }
  // (lock held) A live chunk: forwarded at once.
  void live(const LiveChunk& c);
  // (lock held) A stored segment arrived for `run`.
  void segment(const std::string& run);
  // (lock held) Renders and sends the changed sections (about once a second).
  void flush();

  // An embedded file (ci.js, ci.css, the templates), or empty.
  static std::string_view asset(std::string_view name);
  static std::string repo_channel(const std::string& repo);
  static std::string run_channel(const std::string& run);

 private:
  bool render(const char* name, const std::string& ctx, std::string* out);
  std::string runs_table(const std::string& repo);
  std::string run_head(const RunState& run);
  std::string jobs_table(const RunState& run);
  void section(const std::string& channel, const char* id, const std::string& html);
  WebOut error_page(int status, const std::string& repo, const std::string& text);

  Shared& s_;
  LiveLogs& live_;
  std::set<std::string> dirty_runs_, dirty_repos_;
};

}  // namespace mesh::ci
