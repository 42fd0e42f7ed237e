// parse_pipeline: mesh-ci.yml -> Pipeline, or every error found with its position.
#include <algorithm>
#include <set>

#include "duration.hpp"
#include "limits.hpp"
#include "names.hpp"
#include "pipeline.hpp"

namespace mesh::ci {
namespace {

using YAML::Mark;
using YAML::Node;

std::string check_label(const std::string& s) {
  return valid_label(s) ? "" : "'" + s.substr(0, 64) + "' is not a label ([A-Za-z0-9._-], 1-64)";
}

std::string check_secret(const std::string& s) {
  return valid_secret_name(s)
             ? ""
             : "'" + s.substr(0, 64) + "' is not a secret name ([A-Z_][A-Z0-9_]*, 1-64)";
}

std::string check_job_ref(const std::string& s) {
  return valid_job_name(s) ? "" : "'" + s.substr(0, 64) + "' is not a job name";
}

std::string check_branch(const std::string& s) {
  auto st = check_branch_pattern(s);
  return st ? "" : st.error().message;
}

std::string check_command(const std::string& s) {
  if (s.find_first_not_of(" \t\r\n") == std::string::npos) return "empty command";
  if (s.find('\0') != std::string::npos) return "a command contains a NUL byte";
  if (s.size() > limits::kCommandBytes) return "a command is longer than 8 KiB";
  return {};
}

// Marks kept for the checks that need the whole file (dependencies, cycles, schedule jobs).
struct JobMarks {
  Mark key;
  Mark depends_on;
  std::vector<Mark> deps;
};

class Reader {
 public:
  explicit Reader(Diagnostics& diags)
      : diags_(diags), w_(diags, limits::kYamlNodes, limits::kYamlDepth) {}

  std::optional<Pipeline> read(const Node& root) {
    if (root.IsNull()) {
      w_.error(Mark::null_mark(), "the file is empty (it needs at least 'jobs')");
      return std::nullopt;
    }
    if (!w_.visit(root, 0) || !w_.expect_map(root, root.Mark(), "the file")) return std::nullopt;
    bool have_jobs = false;
    bool have_on = false;
    w_.entries(root, 0, "top level", {"pipeline", "on", "runner", "jobs"}, 8,
               [&](const std::string& k, const Node& key, const Node& v) {
                 if (k == "pipeline") {
                   read_pipeline(key, v);
                 } else if (k == "on") {
                   have_on = true;
                   read_on(key, v);
                 } else if (k == "runner") {
                   read_runner(key, v);
                 } else {
                   have_jobs = true;
                   read_jobs(key, v);
                 }
               });
    if (!have_jobs && !w_.exhausted())
      w_.error(root.Mark(), "no 'jobs': a pipeline needs at least one job");
    if (!have_on) {
      p_.on.push = true;
      p_.on.manual = true;
    }
    if (diags_.empty()) check_graph();
    if (!diags_.empty()) return std::nullopt;
    return std::move(p_);
  }

 private:
  void read_pipeline(const Node& key, const Node& v) {
    if (!w_.expect_map(v, key.Mark(), "pipeline")) return;
    bool named = false;
    w_.entries(
        v, 1, "pipeline", {"name"}, 4, [&](const std::string&, const Node& k, const Node& n) {
          named = true;
          auto s = w_.string(n, k.Mark(), "pipeline.name");
          if (!s) return;
          if (!valid_pipeline_name(*s)) {
            w_.error(mark_of(n, k.Mark()), "pipeline.name: 1-64 bytes without control characters");
            return;
          }
          p_.name = *s;
        });
    if (!named) w_.error(v.Mark(), "pipeline: 'name' is missing");
  }

  void read_on(const Node& key, const Node& v) {
    if (!w_.expect_map(v, key.Mark(), "on")) return;
    p_.on.push = false;
    p_.on.manual = false;
    w_.entries(v, 1, "on", {"push", "schedule", "manual"}, 8,
               [&](const std::string& k, const Node& kn, const Node& n) {
                 if (k == "push") {
                   p_.on.push = true;
                   read_push(kn, n);
                 } else if (k == "schedule") {
                   read_schedules(kn, n);
                 } else if (auto b = w_.boolean(n, kn.Mark(), "on.manual")) {
                   p_.on.manual = *b;
                 }
               });
  }

  void read_push(const Node& key, const Node& v) {
    if (v.IsNull()) return;  // "push:" alone: every branch
    if (!w_.expect_map(v, key.Mark(), "on.push")) return;
    w_.entries(v, 2, "on.push", {"branches"}, 4,
               [&](const std::string&, const Node& k, const Node& n) {
                 auto list = w_.string_list(n, k.Mark(), "on.push.branches", 3,
                                            limits::kBranchPatterns, check_branch);
                 if (!list) return;
                 auto filter = BranchFilter::make(std::move(*list));
                 if (!filter) {
                   w_.error(mark_of(n, k.Mark()), "on.push.branches: " + filter.error().message);
                   return;
                 }
                 p_.on.branches = std::move(*filter);
               });
  }

  void read_schedules(const Node& key, const Node& v) {
    if (!w_.expect_sequence(v, key.Mark(), "on.schedule")) return;
    if (v.size() > limits::kSchedules) {
      w_.error(v.Mark(),
               "on.schedule: more than " + std::to_string(limits::kSchedules) + " entries");
      return;
    }
    for (const auto& item : v) {
      if (!w_.visit(item, 3)) return;
      if (!w_.expect_map(item, v.Mark(), "on.schedule entry")) continue;
      std::optional<Cron> cron;
      bool have_cron = false;
      Schedule s;
      Mark job_mark;
      w_.entries(
          item, 3, "on.schedule entry", {"cron", "job", "branch"}, 4,
          [&](const std::string& k, const Node& kn, const Node& n) {
            auto str = w_.string(n, kn.Mark(), "on.schedule." + k);
            if (!str) return;
            Mark at = mark_of(n, kn.Mark());
            if (k == "cron") {
              have_cron = true;
              auto c = Cron::parse(*str);
              if (!c) {
                w_.error(at, "on.schedule.cron: " + c.error().message);
              } else {
                cron = std::move(*c);
              }
            } else if (k == "job") {
              if (!valid_job_name(*str)) {
                w_.error(at, "on.schedule.job: '" + str->substr(0, 64) + "' is not a job name");
              } else {
                s.job = *str;
                job_mark = at;
              }
            } else if (!valid_ref("refs/heads/" + *str)) {
              w_.error(at, "on.schedule.branch: '" + str->substr(0, 64) + "' is not a branch name");
            } else {
              s.branch = *str;
            }
          });
      if (!have_cron) w_.error(item.Mark(), "on.schedule entry: 'cron' is missing");
      if (cron) {
        s.cron = std::move(*cron);
        p_.on.schedules.push_back(std::move(s));
        schedule_job_marks_.push_back(job_mark);
      }
    }
  }

  void read_runner(const Node& key, const Node& v) {
    if (!w_.expect_map(v, key.Mark(), "runner")) return;
    w_.entries(v, 1, "runner", {"labels", "fallback"}, 4,
               [&](const std::string& k, const Node& kn, const Node& n) {
                 if (k == "labels") {
                   auto list = w_.string_list(n, kn.Mark(), "runner.labels", 2, limits::kLabels,
                                              check_label);
                   if (!list) return;
                   std::set<std::string> seen(list->begin(), list->end());
                   if (seen.size() != list->size()) {
                     w_.error(n.Mark(), "runner.labels: a label is listed twice");
                     return;
                   }
                   p_.labels = std::move(*list);
                 } else if (auto s = w_.string(n, kn.Mark(), "runner.fallback")) {
                   if (*s == "any") {
                     p_.fallback = Fallback::any;
                   } else if (*s == "none") {
                     p_.fallback = Fallback::none;
                   } else {
                     w_.error(mark_of(n, kn.Mark()), "runner.fallback: expected 'any' or 'none'");
                   }
                 }
               });
  }

  void read_jobs(const Node& key, const Node& v) {
    if (!w_.expect_map(v, key.Mark(), "jobs")) return;
    if (v.size() == 0) {
      w_.error(mark_of(v, key.Mark()), "jobs: a pipeline needs at least one job");
      return;
    }
    w_.entries(v, 1, "jobs", {}, limits::kJobs,
               [&](const std::string& name, const Node& kn, const Node& n) {
                 if (!valid_job_name(name)) {
                   w_.error(kn.Mark(), "jobs: '" + name.substr(0, 64) +
                                           "' is not a job name ([A-Za-z0-9][A-Za-z0-9_-]*, 1-64)");
                   return;
                 }
                 read_job(name, kn, n);
               });
  }

  void read_job(const std::string& name, const Node& key, const Node& v) {
    const std::string where = "jobs." + name;
    if (!w_.expect_map(v, key.Mark(), where)) return;
    Job job;
    job.name = name;
    job.mode = "shell";
    job.timeout_ms = limits::kDefaultTimeoutMs;
    JobMarks marks;
    marks.key = key.Mark();
    bool have_commands = false;
    bool have_image = false;
    Mark image_mark = key.Mark();
    std::vector<Mark> env_marks;
    w_.entries(
        v, 2, where, {"mode", "image", "commands", "depends_on", "secrets", "timeout", "env"}, 16,
        [&](const std::string& k, const Node& kn, const Node& n) {
          const std::string what = where + "." + k;
          Mark at = mark_of(n, kn.Mark());
          if (k == "mode") {
            auto s = w_.string(n, kn.Mark(), what);
            if (s && !valid_mode(*s)) {
              w_.error(at,
                       what + ": '" + s->substr(0, 32) + "' is not a mode ([a-z][a-z0-9-]*, 1-32)");
            } else if (s) {
              job.mode = *s;
            }
          } else if (k == "image") {
            auto s = w_.string(n, kn.Mark(), what);
            image_mark = at;
            have_image = true;
            if (s && !valid_image(*s)) {
              w_.error(at,
                       what + ": '" + s->substr(0, 64) +
                           "' is not an image reference ([A-Za-z0-9][A-Za-z0-9._/:@-]*, 1-255)");
            } else if (s) {
              job.image = *s;
            }
          } else if (k == "commands") {
            have_commands = true;
            auto list = w_.string_list(n, kn.Mark(), what, 3, limits::kCommands, check_command);
            if (!list) return;
            if (list->empty()) {
              w_.error(at, what + ": the list is empty");
              return;
            }
            std::size_t total = 0;
            for (const auto& c : *list) total += c.size();
            if (total > limits::kJobCommandBytes) {
              w_.error(at, what + ": more than 64 KiB of commands");
              return;
            }
            job.commands = std::move(*list);
          } else if (k == "depends_on") {
            marks.depends_on = at;
            auto list = w_.string_list(n, kn.Mark(), what, 3, limits::kJobs, check_job_ref);
            if (!list) return;
            for (const auto& item : n) marks.deps.push_back(mark_of(item, at));
            job.depends_on = std::move(*list);
          } else if (k == "secrets") {
            auto list = w_.string_list(n, kn.Mark(), what, 3, limits::kJobSecrets, check_secret);
            if (!list) return;
            std::set<std::string> seen(list->begin(), list->end());
            if (seen.size() != list->size()) {
              w_.error(at, what + ": a secret is listed twice");
              return;
            }
            job.secrets = std::move(*list);
          } else if (k == "timeout") {
            auto s = w_.string(n, kn.Mark(), what);
            if (!s) return;
            auto ms = parse_duration(*s, limits::kMaxTimeoutMs);
            if (!ms) {
              w_.error(at, what + ": " + ms.error().message);
            } else {
              job.timeout_ms = *ms;
            }
          } else {
            read_env(what, kn, n, job, env_marks);
          }
        });
    if (!have_commands) w_.error(key.Mark(), where + ": 'commands' is missing");
    if (job.mode == "docker" && !have_image)
      w_.error(key.Mark(), where + ": mode docker needs an 'image'");
    if (job.mode == "shell" && !job.image.empty())
      w_.error(image_mark,
               where + ".image: shell jobs run on the host; use a container mode (mode: docker)");
    for (std::size_t i = 0; i < job.env.size(); ++i) {
      if (std::find(job.secrets.begin(), job.secrets.end(), job.env[i].first) != job.secrets.end())
        w_.error(env_marks[i],
                 where + ".env: '" + job.env[i].first + "' is also a secret of this job");
    }
    p_.jobs.push_back(std::move(job));
    job_marks_.push_back(std::move(marks));
  }

  void read_env(const std::string& what, const Node& key, const Node& v, Job& job,
                std::vector<Mark>& marks) {
    if (!w_.expect_map(v, key.Mark(), what)) return;
    w_.entries(
        v, 3, what, {}, limits::kEnvEntries,
        [&](const std::string& name, const Node& kn, const Node& n) {
          if (!valid_env_name(name)) {
            w_.error(kn.Mark(), what + ": '" + name.substr(0, 64) +
                                    "' is not a variable name ([A-Za-z_][A-Za-z0-9_]*, 1-64)");
            return;
          }
          if (name == "CI" || name.starts_with("MESH_")) {
            w_.error(kn.Mark(),
                     what + ": '" + name + "' is set by mesh (CI and MESH_* are reserved)");
            return;
          }
          auto value = w_.string(n, kn.Mark(), what + "." + name);
          if (!value) return;
          if (value->size() > limits::kEnvValueBytes || value->find('\0') != std::string::npos) {
            w_.error(mark_of(n, kn.Mark()), what + "." + name + ": at most 4 KiB, no NUL bytes");
            return;
          }
          job.env.emplace_back(name, std::move(*value));
          marks.push_back(kn.Mark());
        });
  }

  // Dependencies, cycles and schedule jobs, once every job is known.
  void check_graph() {
    std::vector<DagNode> nodes;
    for (const auto& j : p_.jobs) nodes.push_back({j.name, j.depends_on});
    bool deps_ok = true;
    for (std::size_t i = 0; i < p_.jobs.size(); ++i) {
      const auto& deps = p_.jobs[i].depends_on;
      std::set<std::string> seen;
      for (std::size_t d = 0; d < deps.size(); ++d) {
        Mark at = d < job_marks_[i].deps.size() ? job_marks_[i].deps[d] : job_marks_[i].depends_on;
        const std::string what = "jobs." + p_.jobs[i].name + ".depends_on";
        if (deps[d] == p_.jobs[i].name) {
          w_.error(at, what + ": a job cannot depend on itself");
          deps_ok = false;
        } else if (!p_.job(deps[d])) {
          w_.error(at, what + ": unknown job '" + deps[d] + "'" + known_jobs());
          deps_ok = false;
        } else if (!seen.insert(deps[d]).second) {
          w_.error(at, what + ": '" + deps[d] + "' is listed twice");
          deps_ok = false;
        }
      }
    }
    if (deps_ok) {
      std::size_t bad = 0;
      auto dag = Dag::build(nodes, &bad);
      if (!dag) {
        w_.error(
            job_marks_[bad].depends_on.is_null() ? job_marks_[bad].key : job_marks_[bad].depends_on,
            "jobs: " + dag.error().message);
      } else {
        p_.dag = std::move(*dag);
      }
    }
    for (std::size_t i = 0; i < p_.on.schedules.size(); ++i) {
      const auto& job = p_.on.schedules[i].job;
      if (!job.empty() && !p_.job(job))
        w_.error(schedule_job_marks_[i],
                 "on.schedule.job: unknown job '" + job + "'" + known_jobs());
    }
  }

  std::string known_jobs() const {
    std::string out = " (jobs:";
    for (const auto& j : p_.jobs) out += " " + j.name;
    return out + ")";
  }

  Diagnostics& diags_;
  YamlWalker w_;
  Pipeline p_;
  std::vector<JobMarks> job_marks_;
  std::vector<Mark> schedule_job_marks_;
};

std::string truncate_reason(std::string text) {
  if (text.size() <= limits::kReasonBytes) return text;
  auto cut = text.rfind('\n', limits::kReasonBytes - 32);
  if (cut == std::string::npos) cut = limits::kReasonBytes - 32;
  text.resize(cut);
  return text + "\n(more errors not shown)";
}

}  // namespace

const Job* Pipeline::job(std::string_view name) const {
  for (const auto& j : jobs) {
    if (j.name == name) return &j;
  }
  return nullptr;
}

std::vector<std::string> Pipeline::modes(const std::vector<std::size_t>& which) const {
  std::set<std::string> out;
  if (which.empty()) {
    for (const auto& j : jobs) out.insert(j.mode);
  } else {
    for (auto i : which) {
      if (i < jobs.size()) out.insert(jobs[i].mode);
    }
  }
  return {out.begin(), out.end()};
}

PipelineParse parse_pipeline(std::string_view text, std::string_view file) {
  PipelineParse out;
  Diagnostics diags(limits::kErrors);
  if (text.size() > limits::kPipelineBytes) {
    diags.add(YAML::Mark::null_mark(),
              "larger than 256 KiB (" + std::to_string(text.size()) + " bytes)");
  } else if (text.find('\0') != std::string_view::npos) {
    diags.add(YAML::Mark::null_mark(), "contains a NUL byte: not a text file");
  } else if (auto root = load_single_document(text, diags)) {
    Reader reader(diags);
    out.pipeline = reader.read(*root);
  }
  if (!diags.empty()) out.pipeline.reset();
  out.errors = diags.sorted();
  if (!diags.empty()) out.reason = truncate_reason(diags.text(file));
  return out;
}

}  // namespace mesh::ci
