#include "cli.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>

#include "cli_text.hpp"
#include "ids.hpp"
#include "names.hpp"
#include "run_status.hpp"

namespace mesh::ci {
namespace json = boost::json;
namespace {

CliOut usage_error(const std::string& why) {
  return {2, why + "\n" + CiCli::usage()};
}

// Splits args into positionals and --flag VALUE / --flag pairs; refuses unknown flags.
struct Parsed {
  std::vector<std::string> pos;
  std::map<std::string, std::string> flags;
  std::string error;
};
Parsed parse(const std::vector<std::string>& args, const std::vector<std::string>& with_value,
             const std::vector<std::string>& switches) {
  Parsed p;
  bool rest = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (rest || a.empty() || a[0] != '-' || a == "-") {
      p.pos.push_back(a);
      continue;
    }
    if (a == "--") {
      rest = true;
      continue;
    }
    std::string name = a, value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    if (std::find(with_value.begin(), with_value.end(), name) != with_value.end()) {
      if (!inline_value) {
        if (i + 1 >= args.size()) {
          p.error = name + " needs a value";
          return p;
        }
        value = args[++i];
      }
      p.flags[name] = value;
    } else if (std::find(switches.begin(), switches.end(), name) != switches.end() &&
               !inline_value) {
      p.flags[name] = "1";
    } else {
      p.error = "unknown option " + name;
      return p;
    }
  }
  return p;
}

std::string json_line(const json::value& v) {
  return json::serialize(v) + "\n";
}

}  // namespace

const char* CiCli::usage() {
  return "usage: mesh ci status [REPO] [--run RUN] [--limit N]\n"
         "       mesh ci run REPO REF [--job JOB]\n"
         "       mesh ci logs REPO RUN [--job JOB] [--follow]\n"
         "       mesh ci cancel RUN\n"
         "       mesh ci runners\n"
         "RUN is a run id or a unique prefix of one (at least 4 hex digits).\n";
}

CliOut CiCli::run(std::uint64_t call, const std::vector<std::string>& args, bool json) {
  if (args.empty()) return usage_error("mesh ci needs a command");
  std::vector<std::string> rest(args.begin() + 1, args.end());
  const std::string& cmd = args[0];
  if (cmd == "status") return status(rest, json);
  if (cmd == "run") return start(rest, json);
  if (cmd == "logs") return logs(call, rest, json);
  if (cmd == "cancel") return cancel(rest, json);
  if (cmd == "runners") return runners(rest, json);
  if (cmd == "help" || cmd == "--help" || cmd == "-h") return {0, usage()};
  return usage_error("unknown command 'ci " + cmd + "'");
}

Result<const RunState*> CiCli::pick(const std::string& prefix, const std::string& repo) {
  if (!valid_run_prefix(prefix))
    return fail("'" + prefix + "' is not a run id (at least 4 lower-case hex digits)");
  std::vector<const RunState*> found;
  for (const RunState* r : s_.book.find_prefix(prefix)) {
    if (repo.empty() || r->spec.repo == repo) found.push_back(r);
  }
  if (found.empty())
    return fail("no run " + prefix + (repo.empty() ? "" : " in " + repo) + " on this node");
  if (found.size() > 1)
    return fail("run " + prefix + " is ambiguous: " + std::to_string(found.size()) +
                " runs start with it; give more digits");
  return found.front();
}

CliOut CiCli::status(const std::vector<std::string>& args, bool json) {
  Parsed p = parse(args, {"--run", "--limit"}, {});
  if (!p.error.empty()) return usage_error(p.error);
  if (p.pos.size() > 1) return usage_error("ci status takes at most one REPO");
  std::string repo = p.pos.empty() ? "" : p.pos[0];
  if (!repo.empty() && !valid_repo_name(repo)) return {1, "invalid repo name '" + repo + "'\n"};
  std::size_t limit = 50;
  if (p.flags.count("--limit")) {
    const std::string& v = p.flags["--limit"];
    auto r = std::from_chars(v.data(), v.data() + v.size(), limit);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size() || limit == 0 || limit > 10'000)
      return usage_error("--limit needs a number 1..10000");
  }
  std::lock_guard lock(s_.mu);
  s_.refresh_members();
  auto name_of = [this](std::string_view n) { return s_.name_of(n); };
  std::vector<const RunState*> runs;
  if (p.flags.count("--run")) {
    auto one = pick(p.flags["--run"], repo);
    if (!one) return {1, one.error().message + "\n"};
    runs.push_back(*one);
  } else {
    for (const RunState* r : s_.book.runs()) {
      if (!repo.empty() && r->spec.repo != repo) continue;
      runs.push_back(r);
      if (runs.size() >= limit) break;
    }
  }
  if (json) {
    json::array a;
    for (const RunState* r : runs) a.push_back(run_status_json(*r, name_of));
    return {0, json_line(a)};
  }
  if (p.flags.count("--run")) return {0, run_detail(*runs.front(), name_of, s_.now_ms())};
  if (runs.empty()) return {0, repo.empty() ? "no CI runs yet\n" : "no CI runs for " + repo + "\n"};
  return {0, status_table(runs, name_of, s_.now_ms())};
}

CliOut CiCli::start(const std::vector<std::string>& args, bool json) {
  Parsed p = parse(args, {"--job"}, {});
  if (!p.error.empty()) return usage_error(p.error);
  if (p.pos.size() != 2) return usage_error("ci run needs REPO and REF");
  const std::string& repo = p.pos[0];
  if (!valid_repo_name(repo)) return {1, "invalid repo name '" + repo + "'\n"};
  std::string job = p.flags.count("--job") ? p.flags["--job"] : "";
  if (!job.empty() && !valid_job_name(job)) return {1, "invalid job name '" + job + "'\n"};
  auto id = o_.run_manual(repo, p.pos[1], job);
  if (!id) return {1, id.error().message + "\n"};
  if (json) return {0, json_line(json::object{{"id", *id}})};
  std::lock_guard lock(s_.mu);
  return {0, "CI run " + short_run_id(*id) + " started (mesh ci logs " + repo + " " +
                 short_run_id(*id) + " --follow)\n"};
}

CliOut CiCli::logs(std::uint64_t call, const std::vector<std::string>& args, bool json) {
  Parsed p = parse(args, {"--job"}, {"--follow"});
  if (!p.error.empty()) return usage_error(p.error);
  if (p.pos.size() != 2) return usage_error("ci logs needs REPO and RUN");
  std::string job = p.flags.count("--job") ? p.flags["--job"] : "";
  bool follow = p.flags.count("--follow") > 0;
  std::lock_guard lock(s_.mu);
  auto run = pick(p.pos[1], p.pos[0]);
  if (!run) return {1, run.error().message + "\n"};
  if (!job.empty() && !(*run)->job(job))
    return {1, "run " + short_run_id((*run)->id) + " has no job " + job + "\n"};
  if (follow) {
    follow_.add(call, **run, job, json);
    return {0, {}, true};
  }
  auto jobs = read_logs(s_, live_, **run, job);
  if (json) return {0, logs_json(**run, jobs) + "\n"};
  std::string out = logs_text(**run, jobs);
  if (is_terminal((*run)->phase))
    out += "run " + short_run_id((*run)->id) + " " + std::string(to_string((*run)->phase)) +
           ((*run)->reason.empty() ? "" : ": " + (*run)->reason) + "\n";
  return {0, out};
}

CliOut CiCli::cancel(const std::vector<std::string>& args, bool json) {
  Parsed p = parse(args, {}, {});
  if (!p.error.empty()) return usage_error(p.error);
  if (p.pos.size() != 1) return usage_error("ci cancel needs RUN");
  std::lock_guard lock(s_.mu);
  auto run = pick(p.pos[0], {});
  if (!run) return {1, run.error().message + "\n"};
  const RunState& r = **run;
  if (is_terminal(r.phase))
    return {1, "run " + short_run_id(r.id) + " has already ended (" +
                   std::string(to_string(r.phase)) + ")\n"};
  if (!r.cancel) {
    CancelRequested c{"cancelled by " + s_.self_name + " (mesh ci cancel)"};
    if (!s_.publish(Record{r.id, c})) return {1, "the cancel could not be published\n"};
  }
  if (json) return {0, json_line(json::object{{"cancelled", r.id}})};
  return {0, "cancelling run " + short_run_id(r.id) + " (it runs on " +
                 (r.assignee().empty() ? std::string("no node yet") : s_.name_of(r.assignee())) +
                 ")\n"};
}

CliOut CiCli::runners(const std::vector<std::string>& args, bool json) {
  Parsed p = parse(args, {}, {});
  if (!p.error.empty()) return usage_error(p.error);
  if (!p.pos.empty()) return usage_error("ci runners takes no arguments");
  std::lock_guard lock(s_.mu);
  s_.refresh_members(true);
  struct Row {
    std::string node, id;
    RunnerInfo r;
    std::string state;
  };
  std::vector<Row> rows;
  auto offered = s_.advertised();
  for (const auto& r : s_.local_runners()) {
    auto it = std::find_if(offered.begin(), offered.end(),
                           [&](const RunnerInfo& o) { return o.name == r.name; });
    rows.push_back({s_.self_name, s_.self, it == offered.end() ? r : *it,
                    it == offered.end() ? "disabled" : "up"});
  }
  for (const auto& m : s_.members()) {
    if (!m.ci) continue;
    for (const auto& r : m.ci->runners) rows.push_back({m.name, m.id, r, m.up ? "up" : "down"});
  }
  if (json) {
    json::array a;
    for (const auto& row : rows) {
      json::array modes, labels;
      for (const auto& x : row.r.modes) modes.emplace_back(x);
      for (const auto& x : row.r.labels) labels.emplace_back(x);
      a.push_back(json::object{{"node", row.node},
                               {"id", row.id},
                               {"runner", row.r.name},
                               {"modes", modes},
                               {"labels", labels},
                               {"slots", row.r.slots},
                               {"free", row.r.free},
                               {"state", row.state}});
    }
    return {0, json_line(a)};
  }
  if (rows.empty())
    return {0,
            "no runners in the mesh (a node offers its runners once `mesh runner enable` opts "
            "it in and a runner plugin such as runner-shell is enabled)\n"};
  std::vector<std::vector<std::string>> t{
      {"NODE", "RUNNER", "MODES", "LABELS", "SLOTS", "FREE", "STATE"}};
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s.empty() ? "-" : s;
  };
  for (const auto& row : rows) {
    t.push_back({row.node, row.r.name, join(row.r.modes), join(row.r.labels),
                 std::to_string(row.r.slots), std::to_string(row.r.free), row.state});
  }
  return {0, table(t)};
}

}  // namespace mesh::ci
