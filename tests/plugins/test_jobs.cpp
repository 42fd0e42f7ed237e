// test-jobs: both sides of the ABI 1.3 runner registry, through mesh/plugin_jobs.hpp, for the
// host's unit and integration tests.
//   runner "test-runner" (mode "test", label "fake", 2 slots): for each command
//     "echo TEXT"   logs TEXT and a newline
//     "env NAME"    logs NAME=<value from the job's env or secrets, or "(unset)">
//     "env-names"   logs the job's env names, space-separated
//     "fail N"      ends the job failed with exit code N
//     "wait"        blocks until cancelled (then reports cancelled)
//     "vanish"      returns without reporting
//   then ends it passed. Registered only when the setting "runner" is not false.
//   mesh jobs-runners              prints runners_json
//   mesh jobs-submit RUNNER MODE WORKDIR TIMEOUT_MS [secret=NAME|env=N=V]... -- COMMAND...
//                                  prints the job id, or "refused <code>: <message>" (exit 1)
//   mesh jobs-result ID            "running" or "done <outcome> <exit> <reason>", then the log
//   mesh jobs-cancel ID            prints job_cancel's status code
//   mesh jobs-unregister           prints runner_unregister's status code
// jobs-result says "out-of-order" if a log call reached the sink after its done.
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "mesh/plugin_jobs.hpp"

namespace {

struct Record {
  std::string log;
  bool done = false;
  std::string result;
  bool out_of_order = false;  // a log after done
};

class Jobs : public mesh::sdk::Plugin {
 public:
  void start() override {
    if (host().config_json().find("\"runner\":false") == std::string::npos) {
      runner_.add(
          host(), {"test-runner", {"test"}, {"fake"}, 2},
          [this](const mesh::sdk::Job& job) { run(job); },
          [this](uint64_t id) {
            std::lock_guard<std::mutex> lock(mu_);
            cancelled_.insert(id);
            cv_.notify_all();
          });
    }
    verb("jobs-runners", "runners_json (test plugin)",
         [this](const mesh::sdk::CliRequest& c) { c.reply(0, client_.runners_json(host())); });
    verb("jobs-submit", "job_submit (test plugin)",
         [this](const mesh::sdk::CliRequest& c) { submit(c); });
    verb("jobs-result", "a submitted job's result (test plugin)",
         [this](const mesh::sdk::CliRequest& c) {
           uint64_t id = c.args().empty() ? 0 : std::stoull(std::string(c.args()[0]));
           std::lock_guard<std::mutex> lock(mu_);
           auto it = records_.find(id);
           if (it == records_.end()) return (void)c.reply(1, "no such job");
           const Record& r = it->second;
           std::string head = r.done ? "done " + r.result : "running";
           if (r.out_of_order) head += " out-of-order";
           c.reply(0, head + "\n" + r.log);
         });
    verb("jobs-cancel", "job_cancel (test plugin)", [this](const mesh::sdk::CliRequest& c) {
      uint64_t id = c.args().empty() ? 0 : std::stoull(std::string(c.args()[0]));
      c.reply(0, std::to_string(client_.cancel(host(), id)));
    });
    verb("jobs-unregister", "runner_unregister (test plugin)",
         [this](const mesh::sdk::CliRequest& c) {
           const mesh_host* h = host().raw();
           c.reply(0, std::to_string(h->runner_unregister(h->ctx, mesh::sdk::view("test-runner"))));
         });
  }

 private:
  void run(const mesh::sdk::Job& job) {
    auto env = job.env();
    auto secrets = job.secrets();
    for (const auto& cmd : job.commands()) {
      if (cmd.rfind("echo ", 0) == 0) {
        job.log(cmd.substr(5) + "\n");
      } else if (cmd.rfind("env ", 0) == 0) {
        std::string name = cmd.substr(4), value = "(unset)";
        for (const auto& [n, v] : env)
          if (n == name) value = v;
        for (const auto& [n, v] : secrets)
          if (n == name) value = v;
        job.log(name + "=" + value + "\n");
      } else if (cmd == "env-names") {
        std::string names;
        for (const auto& [n, v] : env) names += (names.empty() ? "" : " ") + n;
        job.log(names + "\n");
      } else if (cmd.rfind("fail ", 0) == 0) {
        job.done(mesh::sdk::JobOutcome::failed, std::stoi(cmd.substr(5)), "asked to fail");
        return;
      } else if (cmd == "wait") {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return cancelled_.count(job.id()) > 0; });
        lock.unlock();
        job.done(mesh::sdk::JobOutcome::cancelled, -1, "cancelled");
        return;
      } else if (cmd == "vanish") {
        return;
      }
    }
    job.done(mesh::sdk::JobOutcome::passed, 0);
  }

  void submit(const mesh::sdk::CliRequest& c) {
    const auto& a = c.args();
    if (a.size() < 4)
      return (void)c.reply(2, "usage: jobs-submit RUNNER MODE WORKDIR TIMEOUT_MS ...");
    mesh::sdk::JobRequest req;
    req.run_id = "run-1";
    req.job_name = "job";
    req.repo = "repo";
    req.sha = "0000";
    req.mode = std::string(a[1]);
    req.workdir = std::string(a[2]);
    req.timeout_ms = std::stoull(std::string(a[3]));
    size_t i = 4;
    for (; i < a.size() && a[i] != "--"; ++i) {
      std::string s(a[i]);
      if (s.rfind("secret=", 0) == 0) req.secrets.emplace_back(s.substr(7), "");
      if (s.rfind("env=", 0) == 0) {
        auto eq = s.find('=', 4);
        req.env.emplace_back(s.substr(4, eq - 4), eq == std::string::npos ? "" : s.substr(eq + 1));
      }
    }
    for (++i; i < a.size(); ++i) req.commands.emplace_back(a[i]);
    try {
      uint64_t id = client_.submit(
          host(), a[0], req,
          [this](uint64_t job, std::string_view data) {
            std::lock_guard<std::mutex> lock(mu_);
            Record& r = records_[job];
            if (r.done) r.out_of_order = true;
            r.log.append(data);
          },
          [this](uint64_t job, mesh::sdk::JobOutcome o, int32_t code, std::string_view why) {
            std::lock_guard<std::mutex> lock(mu_);
            Record& r = records_[job];
            r.done = true;
            r.result = std::to_string(static_cast<uint32_t>(o)) + " " + std::to_string(code) + " " +
                       std::string(why);
          });
      {
        std::lock_guard<std::mutex> lock(mu_);
        records_[id];  // "running" until done
      }
      c.reply(0, std::to_string(id));
    } catch (const mesh::sdk::Error& e) {
      c.reply(1, "refused " + std::to_string(e.code()) + ": " + e.what());
    }
  }

  mesh::sdk::Runner runner_;
  mesh::sdk::JobClient client_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<uint64_t> cancelled_;
  std::map<uint64_t, Record> records_;
};

}  // namespace

MESH_PLUGIN(Jobs, "test-jobs", "1.0.0");
