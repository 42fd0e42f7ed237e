#include "sim_mesh.hpp"

#include <kainjow/mustache.hpp>

#include <algorithm>

namespace mesh::ci::sim {
namespace json = boost::json;

SimNode::SimNode(SimNet& n, std::string nm, char letter, fs::path r, fs::path rp)
    : net(n),
      id("mesh:" + std::string(52, letter)),
      name(std::move(nm)),
      root(std::move(r)),
      repos(std::move(rp)) {
  fs::create_directories(root);
}

SimNode::~SimNode() {
  stop();
}

void SimNode::start() {
  auto s = parse_settings(config);
  ASSERT_TRUE(s) << s.error().message;
  ci = std::make_unique<Ci>(*this, std::move(*s), root / "data", repos, id, name);
  fs::create_directories(root / "data");
  ci->open();
}

void SimNode::stop() {
  if (!ci) return;
  ci->stop();
  std::vector<std::shared_ptr<SimJob>> all;
  {
    std::lock_guard lock(mu);
    all = jobs;
  }
  for (auto& j : all) {
    if (int g = j->pgid.load()) ::kill(-g, SIGKILL);
    if (j->thread.joinable()) j->thread.join();
  }
  ci.reset();
}

CliOut SimNode::cli(const std::vector<std::string>& args, bool json, std::uint64_t call) {
  return ci->cli(call, args, json);
}

json::value SimNode::cli_json(const std::vector<std::string>& args) {
  CliOut out = cli(args, true);
  EXPECT_EQ(out.code, 0) << out.output;
  boost::system::error_code ec;
  json::value v = json::parse(out.output, ec);
  EXPECT_FALSE(ec) << out.output;
  return v;
}

const RunState* SimNode::run(const std::string& rid) {
  return ci ? ci->shared().book.find(rid) : nullptr;
}

std::shared_ptr<SimJob> SimNode::job(const std::string& jname) const {
  for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) {
    if ((*it)->job.job_name == jname) return *it;
  }
  return nullptr;
}

void SimNode::finish(const std::string& jname, JobOutcome o, int code, const std::string& output) {
  auto j = job(jname);
  ASSERT_TRUE(j) << "no job " << jname << " on " << name;
  ASSERT_FALSE(j->finished.exchange(true));
  if (!output.empty()) j->log(output);
  j->done(o, code, o == JobOutcome::passed ? "" : "exit code " + std::to_string(code));
}

void SimNode::log(Level, const std::string& m) {
  std::lock_guard lock(mu);
  logs.push_back(m);
}

bool SimNode::publish(std::string_view topic, const std::string& payload, std::string*) {
  std::lock_guard lock(net.mu);
  SimEvent e{id, std::string(topic), payload, 0, 0, net.wall};
  if (topic.starts_with("local.")) {
    if (topic == "local.push.note") {
      auto v = json::parse(payload).as_object();
      if (auto* lines = v.if_contains("lines")) {
        for (const auto& l : lines->as_array()) notes.emplace_back(l.as_string());
      }
    } else if (topic == "local.sync") {
      syncs.push_back(payload);
    }
    return true;
  }
  if (topic.ends_with(".live")) {
    e.lamport = lamport;
    for (auto& n : net.nodes) {
      if (n.get() == this || (connected && n->connected)) net.queue.emplace_back(n.get(), e);
    }
    return true;
  }
  e.seq = ++seq;
  e.lamport = ++lamport;
  net.feed.push_back(e);
  have.insert({id, e.seq});
  net.queue.emplace_back(this, e);
  for (auto& n : net.nodes) {
    if (n.get() != this && connected && n->connected && !n->deaf)
      net.queue.emplace_back(n.get(), e);
  }
  return true;
}

std::uint64_t SimNode::now_ms() {
  return net.wall;
}
std::uint64_t SimNode::mono_ms() {
  return net.mono;
}

std::vector<Member> SimNode::members() {
  std::vector<Member> out;
  for (auto& n : net.nodes) {
    if (n.get() == this) continue;
    Member m;
    m.id = n->id;
    m.name = n->name;
    m.up = connected && n->connected && n->running();
    std::string hb;
    {
      std::lock_guard lock(n->mu);
      hb = n->heartbeat;
    }
    if (m.up && !hb.empty()) {
      auto info = parse_heartbeat_part(json::parse(hb));
      if (info) m.ci = std::move(*info);
    }
    out.push_back(std::move(m));
  }
  return out;
}

LocalRunners SimNode::local_runners() {
  std::lock_guard lock(mu);
  LocalRunners out{runners, runs_jobs};
  for (auto& r : out.runners) {
    std::uint32_t busy = 0;
    for (const auto& j : jobs) busy += j->runner == r.name && !j->finished;
    r.free = !runs_jobs ? 0 : r.slots > busy ? r.slots - busy : 0;
  }
  return out;
}

void SimNode::set_heartbeat(const std::string& json) {
  std::lock_guard lock(mu);
  heartbeat = json;
}

SubmitResult SimNode::submit_job(const std::string& runner, const JobSubmit& js, JobLogFn on_log,
                                 JobDoneFn on_done) {
  SubmitResult r;
  std::lock_guard lock(mu);
  auto it = std::find_if(runners.begin(), runners.end(),
                         [&](const RunnerInfo& x) { return x.name == runner; });
  if (it == runners.end()) return r.error = "no runner " + runner, r;
  if (!runs_jobs) return r.error = "this node runs no jobs: [runner] enabled = false", r;
  std::uint32_t busy = 0;
  for (const auto& j : jobs) busy += j->runner == runner && !j->finished;
  if (busy >= it->slots) return r.busy = true, r.error = "no free slot", r;
  if (missing_secrets && !js.secrets.empty())
    return r.error = "job " + js.job_name + " declares secret " + js.secrets[0] +
                     ", which is not in secrets.yml on this node",
           r;
  auto j = std::make_shared<SimJob>();
  j->id = next_job++;
  j->runner = runner;
  j->job = js;
  j->log = std::move(on_log);
  j->done = std::move(on_done);
  jobs.push_back(j);
  r.id = j->id;
  if (auto_run) j->thread = std::thread([this, j] { run_shell(j); });
  return r;
}

void SimNode::run_shell(std::shared_ptr<SimJob> j) {
  std::string script;
  for (const auto& c : j->job.commands) script += c + "\n";
  int p[2];
  if (::pipe(p) != 0) return;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_adddup2(&fa, p[1], 2);
  posix_spawn_file_actions_addclose(&fa, p[0]);
  posix_spawn_file_actions_addchdir_np(&fa, j->job.workdir.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  std::vector<std::string> env{"PATH=/usr/local/bin:/usr/bin:/bin"};
  for (const auto& [n, v] : j->job.env) env.push_back(n + "=" + v);
  std::vector<char*> ev;
  for (auto& s : env) ev.push_back(s.data());
  ev.push_back(nullptr);
  std::string sh = "/bin/sh", e = "-ec";
  char* argv[] = {sh.data(), e.data(), script.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, ev.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(p[1]);
  if (rc != 0) {
    ::close(p[0]);
    j->finished = true;
    j->done(JobOutcome::error, -1, "cannot run sh");
    return;
  }
  j->pgid = pid;
  if (j->cancelled) ::kill(-pid, SIGKILL);
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) j->log(std::string_view(buf, n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::kill(-pid, SIGKILL);
  j->finished = true;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (j->cancelled) return j->done(JobOutcome::cancelled, code, "cancelled");
  if (code == 0) return j->done(JobOutcome::passed, 0, "");
  j->done(JobOutcome::failed, code, "exit code " + std::to_string(code));
}

void SimNode::cancel_job(std::uint64_t job_id) {
  std::shared_ptr<SimJob> j;
  {
    std::lock_guard lock(mu);
    for (auto& x : jobs) {
      if (x->id == job_id) j = x;
    }
  }
  if (!j || j->finished) return;
  j->cancelled = true;
  if (int g = j->pgid.load()) {
    ::kill(-g, SIGKILL);
  } else if (!auto_run && !j->finished.exchange(true)) {
    // A job the test drives: the runner reports the cancel on its own thread, as a host does.
    std::thread([j] { j->done(JobOutcome::cancelled, -1, "cancelled"); }).detach();
  }
}

bool SimNode::cli_chunk(std::uint64_t call, const std::string& text) {
  std::lock_guard lock(mu);
  chunks[call] += text;
  return true;
}

void SimNode::cli_respond(std::uint64_t call, int code, const std::string& output) {
  std::lock_guard lock(mu);
  responses[call] = std::to_string(code) + ":" + output;
}

namespace {

// The host's engine (core/web uses kainjow mustache too), with its context conversion.
kainjow::mustache::data to_mustache(const json::value& v) {
  using kainjow::mustache::data;
  switch (v.kind()) {
    case json::kind::object: {
      data d{data::type::object};
      for (const auto& [k, x] : v.as_object()) d.set(std::string(k), to_mustache(x));
      return d;
    }
    case json::kind::array: {
      data l{data::type::list};
      for (const auto& x : v.as_array()) l.push_back(to_mustache(x));
      return l;
    }
    case json::kind::string:
      return data(std::string(v.as_string()));
    case json::kind::bool_:
      return data(v.as_bool());
    case json::kind::null:
      return data(false);
    default:
      return data(json::serialize(v));
  }
}

}  // namespace

bool SimNode::render(std::string_view tmpl, const std::string& ctx, std::string* out,
                     std::string* error) {
  json::value v = json::parse(ctx);
  v.as_object()["mesh"] =
      json::object{{"csrf", "CSRF"}, {"node", name}, {"id", id}, {"version", "0"}};
  kainjow::mustache::mustache m{std::string(tmpl)};
  if (!m.is_valid()) return *error = m.error_message(), false;
  *out = m.render(to_mustache(v));
  return m.is_valid() || (*error = m.error_message(), false);
}

void SimNode::sse(const std::string& channel, const std::string& event, const std::string& data) {
  std::lock_guard lock(mu);
  sse_sent.emplace_back(channel, event, data);
}

void SimNet::deliver(SimNode& to, const SimEvent& e) {
  Envelope from{e.origin, e.seq, e.lamport, e.wall};
  if (e.topic == "refs") {
    to.ci->on_refs(from, e.payload);
  } else if (e.topic == "ci" || e.topic.starts_with("ci.")) {
    if (!to.ci->on_event(from, e.topic, e.payload)) {
      std::lock_guard lock(mu);
      to.have.erase({e.origin, e.seq});  // taken again at the next pump
    }
  }
}

void SimNet::sync() {
  std::lock_guard lock(mu);
  for (auto& n : nodes) {
    if (!n->running() || !n->connected || n->deaf) continue;
    for (const auto& e : feed) {
      if (n->have.count({e.origin, e.seq})) continue;
      // Some connected node must hold it (its origin, or a member that relays it).
      bool held = std::any_of(nodes.begin(), nodes.end(), [&](const auto& o) {
        return o.get() != n.get() && o->connected && o->have.count({e.origin, e.seq});
      });
      if (!held) continue;
      bool queued = std::any_of(queue.begin(), queue.end(), [&](const auto& q) {
        return q.first == n.get() && q.second.origin == e.origin && q.second.seq == e.seq;
      });
      if (!queued) queue.emplace_back(n.get(), e);
    }
  }
}

void SimNet::pump() {
  for (int round = 0; round < 100'000; ++round) {
    std::pair<SimNode*, SimEvent> next;
    {
      std::lock_guard lock(mu);
      if (queue.empty()) return;
      next = queue.front();
      queue.pop_front();
      SimNode& to = *next.first;
      if (!to.running()) continue;
      if (next.second.seq) {
        bool own = next.second.origin == to.id;
        if (!own && to.have.count({next.second.origin, next.second.seq})) continue;
        to.have.insert({next.second.origin, next.second.seq});
        to.lamport = std::max(to.lamport, next.second.lamport);
      }
    }
    deliver(*next.first, next.second);
  }
}

void SimNet::tick() {
  for (auto& n : nodes) {
    if (n->running()) n->ci->tick();
  }
  sync();
  pump();
}

void SimNet::advance(std::uint64_t ms) {
  while (ms > 0) {
    std::uint64_t step = std::min<std::uint64_t>(ms, 1000);
    wall += step;
    mono += step;
    ms -= step;
    pump();
    tick();
  }
}

bool SimNet::until(const std::function<bool()>& pred, std::uint64_t max_ms, std::uint64_t step_ms) {
  std::uint64_t spent = 0, since_tick = 0;
  auto real_end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    pump();
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > real_end) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    // Simulated time runs up to 50 times faster than real time, so on a loaded machine a real
    // job or checkout can outlast the whole simulated budget: once it is spent, time stands
    // still (no simulated timer fires any more) and only the real work gets more time.
    if (spent >= max_ms) continue;
    wall += step_ms;
    mono += step_ms;
    spent += step_ms;
    since_tick += step_ms;
    if (since_tick >= 1000) {
      since_tick = 0;
      tick();
    }
  }
}

void SimNet::pushed(SimNode& node, const std::string& repo, const std::string& ref,
                    const std::string& old_sha, const std::string& new_sha) {
  static std::uint64_t clock = 1;
  json::object o{
      {"repo", repo},
      {"clock", ++clock},
      {"updates", json::array{json::object{{"ref", ref}, {"old", old_sha}, {"new", new_sha}}}},
      {"forced", false}};
  std::string err;
  node.publish("refs", json::serialize(o), &err);
}

}  // namespace mesh::ci::sim
