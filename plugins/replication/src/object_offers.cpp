#include "object_offers.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <fstream>

#include "git_process.hpp"
#include "names.hpp"

namespace mesh::repl {
namespace json = boost::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxWantMembers = 64;
constexpr std::size_t kChunk = 64 * 1024;
// A git child that produces or takes no byte for this long is stuck (a pack of any size keeps
// both sides busy); it is killed and the offer or the upload fails.
constexpr auto kStall = std::chrono::seconds(60);

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

bool read_list(const json::object& o, std::string_view key, std::size_t max, bool oids,
               std::vector<std::string>* out, std::string* why) {
  const auto* v = o.if_contains(key);
  if (!v) return true;
  if (!v->is_array() || v->as_array().size() > max) {
    *why = std::string(key) + ": an array of at most " + std::to_string(max) + " entries";
    return false;
  }
  for (const auto& e : v->as_array()) {
    const auto* s = e.if_string();
    if (!s || (oids ? !valid_oid(*s) : (s->size() > 80 || !s->starts_with("mesh:")))) {
      *why = std::string(key) + ": not " + (oids ? "an object id" : "a member id");
      return false;
    }
    out->emplace_back(*s);
  }
  return true;
}

std::vector<std::string> child_env(const GitEnv& env) {
  return {"PATH=" + env.path_env, "HOME=" + env.home, "LANG=C", "GIT_CONFIG_NOSYSTEM=1",
          "GIT_CONFIG_GLOBAL=/dev/null"};
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// A write to a pipe whose reader died must fail with EPIPE, not kill the daemon: SIGPIPE stays
// blocked (and pending, harmlessly) in the calling thread.
void block_sigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Readable within kStall, or false.
bool wait_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    int r = ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kStall).count()));
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

std::string finish(ChildProcess& child, const char* what) {
  if (!child.wait_exit(Clock::now() + kStall)) {
    child.terminate(std::chrono::milliseconds(1000));
    return std::string(what) + " did not finish";
  }
  int status = child.reap();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  std::string tail = child.stderr_tail(512);
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  return std::string(what) + " failed (" + describe_wait_status(status) + ")" +
         (tail.empty() ? "" : ": " + tail);
}

}  // namespace

std::string want_payload(const Want& want) {
  return json::serialize(json::object{{"repo", want.repo},
                                      {"oids", strings(want.oids)},
                                      {"have", strings(want.have)},
                                      {"to", strings(want.to)}});
}

std::optional<Want> parse_want(std::string_view payload, std::string* why) {
  if (payload.size() > 64 * 1024) {
    *why = "larger than 64 KiB";
    return std::nullopt;
  }
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  const auto* o = ec ? nullptr : v.if_object();
  if (!o) {
    *why = "not a JSON object";
    return std::nullopt;
  }
  Want w;
  const auto* repo = o->if_contains("repo");
  if (!repo || !repo->is_string() || !valid_repo_name(repo->as_string())) {
    *why = "no valid repo";
    return std::nullopt;
  }
  w.repo = repo->as_string();
  if (!read_list(*o, "oids", kMaxWantOids, true, &w.oids, why) ||
      !read_list(*o, "have", kMaxWantOids, true, &w.have, why) ||
      !read_list(*o, "to", kMaxWantMembers, false, &w.to, why)) {
    return std::nullopt;
  }
  if (w.oids.empty()) {
    *why = "oids: empty";
    return std::nullopt;
  }
  return w;
}

std::string write_pack(const GitEnv& env, const fs::path& git_dir,
                       const std::vector<std::string>& tips,
                       const std::vector<std::string>& exclude, const fs::path& out,
                       std::uint64_t max_bytes, std::uint64_t* size) {
  block_sigpipe();
  ProcessSpec spec;
  spec.path = env.git_path;
  spec.argv = {
      "git", "--git-dir=" + git_dir.string(), "pack-objects", "--stdout", "--revs", "--thin", "-q"};
  spec.env = child_env(env);
  spec.pipe_stdin = true;
  std::string err;
  auto child = ChildProcess::spawn(spec, &err);
  if (!child) return "cannot start git pack-objects: " + err;
  // The revisions first (a few lines: pack-objects reads them all before it writes a byte).
  std::string revs;
  for (const auto& t : tips) revs += t + "\n";
  for (const auto& e : exclude) revs += "^" + e + "\n";
  {
    Fd in = child->take_stdin();
    if (!write_all(in.get(), revs)) return finish(*child, "git pack-objects");
  }
  Fd from = child->take_stdout();
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  if (!file) return "cannot write " + out.string();
  std::vector<char> buf(kChunk);
  std::uint64_t total = 0;
  for (;;) {
    if (!wait_readable(from.get())) {
      child->terminate(std::chrono::milliseconds(1000));
      return "git pack-objects stalled";
    }
    ssize_t n = ::read(from.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return "reading git pack-objects: " + std::string(strerror(errno));
    if (n == 0) break;
    total += static_cast<std::uint64_t>(n);
    if (total > max_bytes) {
      child->terminate(std::chrono::milliseconds(1000));
      return "the pack is larger than " + std::to_string(max_bytes) + " bytes";
    }
    file.write(buf.data(), n);
  }
  file.close();
  if (!file) return "cannot write " + out.string();
  if (auto e = finish(*child, "git pack-objects"); !e.empty()) return e;
  *size = total;
  return "";
}

std::string index_pack(const GitEnv& env, const fs::path& git_dir,
                       const std::function<long(char*, std::size_t)>& read, std::uint64_t length) {
  block_sigpipe();
  ProcessSpec spec;
  spec.path = env.git_path;
  // --strict: every object is checked (fsck) and every link it makes must resolve, here or in
  // the pack; --fix-thin completes deltas against objects this mirror already has.
  spec.argv = {"git",     "--git-dir=" + git_dir.string(), "index-pack", "--stdin", "--fix-thin",
               "--strict"};
  spec.env = child_env(env);
  spec.pipe_stdin = true;
  std::string err;
  auto child = ChildProcess::spawn(spec, &err);
  if (!child) return "cannot start git index-pack: " + err;
  std::vector<char> buf(kChunk);
  std::uint64_t total = 0;
  {
    Fd in = child->take_stdin();
    for (;;) {
      long n = read(buf.data(), buf.size());
      if (n < 0) {
        child->terminate(std::chrono::milliseconds(1000));
        return "the sender went away after " + std::to_string(total) + " bytes";
      }
      if (n == 0) break;
      total += static_cast<std::uint64_t>(n);
      if (total > length) {
        child->terminate(std::chrono::milliseconds(1000));
        return "more bytes than the request announced";
      }
      if (!write_all(in.get(), std::string_view(buf.data(), static_cast<std::size_t>(n)))) {
        // index-pack stopped reading: it refused the pack, and says why.
        auto e = finish(*child, "git index-pack");
        return e.empty() ? "git index-pack stopped reading" : e;
      }
    }
  }
  if (total != length) {
    child->terminate(std::chrono::milliseconds(1000));
    return "the pack ended after " + std::to_string(total) + " of " + std::to_string(length) +
           " bytes";
  }
  // index-pack prints "pack\t<hash>" when it is done; drain it.
  Fd from = child->take_stdout();
  while (wait_readable(from.get())) {
    ssize_t n = ::read(from.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
  }
  return finish(*child, "git index-pack");
}

}  // namespace mesh::repl
