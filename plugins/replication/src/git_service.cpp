#include "git_service.hpp"

#include <git2.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <system_error>

#include "git2_util.hpp"
#include "git_exchange.hpp"
#include "git_process.hpp"
#include "mirror_init.hpp"
#include "pkt_line.hpp"
#include "smart_http.hpp"

namespace mesh::repl {

namespace fs = std::filesystem;
using namespace detail;

namespace {

constexpr std::string_view kTmpPrefix = kMirrorTmpPrefix;
// The empty repository that advertises for a receive-pack to a repo that does not exist yet.
// Its name is no valid repo name, so it is never served or listed as a mirror.
constexpr std::string_view kEmptyRepo = ".mesh-empty.git";
constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";
const std::string kZero(40, '0');
using RefMap = std::map<std::string, std::string>;

std::vector<RefUpdate> diff_refs(const RefMap& before, const RefMap& after) {
  std::vector<RefUpdate> out;
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      out.push_back({b->first, b->second, kZero});
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      out.push_back({a->first, kZero, a->second});
      ++a;
    } else {
      if (a->second != b->second) out.push_back({a->first, b->second, a->second});
      ++a;
      ++b;
    }
  }
  return out;
}

// A fresh mirror's HEAD names refs/heads/main; when the first push brought other branches
// only, point HEAD at one of them so that clones check something out.
void adopt_head(const std::string& dir, const RefMap& refs) {
  std::string err;
  git2::Repo repo = git2::open_bare(dir, &err);
  if (!repo || git_repository_head_unborn(repo.get()) != 1) return;
  std::string pick;
  for (const char* preferred : {"refs/heads/main", "refs/heads/master"}) {
    if (refs.count(preferred)) {
      pick = preferred;
      break;
    }
  }
  if (pick.empty()) {
    auto it = refs.lower_bound("refs/heads/");
    if (it == refs.end() || !it->first.starts_with("refs/heads/")) return;
    pick = it->first;
  }
  git_repository_set_head(repo.get(), pick.c_str());
}

}  // namespace

GitService::GitService(GitServiceOptions options) : options_(std::move(options)) {
  if (options_.max_processes == 0) options_.max_processes = 1;
  state_ = std::make_unique<State>(options_);
  git_libgit2_init();
  std::error_code ec;
  if (!options_.repos_dir.empty()) {
    auto abs = fs::absolute(options_.repos_dir, ec);
    if (!ec) options_.repos_dir = abs.lexically_normal();
  }
  const char* path = std::getenv("PATH");
  state_->path_env = path && *path ? path : std::string(kDefaultPath);
  state_->git_path = find_executable(options_.git, state_->path_env);

  // Leftovers of a creation interrupted by a crash of an earlier run (other pids): never
  // served (the name starts with '.'), but not worth keeping.
  const std::string mine = std::string(kTmpPrefix) + std::to_string(::getpid()) + "-";
  for (auto it = fs::directory_iterator(options_.repos_dir, ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with(kTmpPrefix) && !name.starts_with(mine)) {
      std::error_code rm;
      fs::remove_all(it->path(), rm);
    }
  }
}

GitService::~GitService() {
  git_libgit2_shutdown();
}

unsigned GitService::active() const {
  return state_->slots.active();
}

bool Exchange::parse_headers() {
  // A repeated Content-Encoding or Git-Protocol is ambiguous: refuse it rather than guess.
  int n_enc = 0, n_proto = 0;
  for (const auto& [name, value] : req_.headers) {
    if (iequals(name, "Content-Type")) {
      if (content_type_.empty()) content_type_ = value;
    } else if (iequals(name, "Content-Encoding")) {
      content_encoding_ = value;
      ++n_enc;
    } else if (iequals(name, "Git-Protocol")) {
      git_protocol_ = value;
      ++n_proto;
    } else if (iequals(name, "Content-Length")) {
      content_length_ = value;
    }
  }
  if (n_enc > 1 || n_proto > 1) {
    reply_.text(400, "repeated Content-Encoding or Git-Protocol header");
    result_.log = "repeated Content-Encoding or Git-Protocol header";
    return false;
  }
  return true;
}

void Exchange::run() {
  const GitPath what = req_.path.what;
  if (!parse_headers()) return;
  if (what == GitPath::info_refs) {
    if (req_.method != "GET") {
      reply_.text(405, "info/refs takes GET", {{"Allow", "GET"}});
      result_.log = "info/refs: method " + one_line(req_.method) + " not allowed";
      return;
    }
    switch (query_service(req_.query)) {
      case QueryService::upload_pack:
        service_ = Service::upload_pack;
        break;
      case QueryService::receive_pack:
        service_ = Service::receive_pack;
        break;
      case QueryService::missing:
        reply_.text(400,
                    "dumb HTTP is not served: this server speaks git's smart HTTP only "
                    "(info/refs?service=git-upload-pack or git-receive-pack)");
        result_.log = "info/refs: no service (dumb HTTP client?)";
        return;
      case QueryService::bad:
        reply_.text(400, "unsupported service: use service=git-upload-pack or git-receive-pack");
        result_.log = "info/refs: bad query";
        return;
    }
    advertise_ = true;
  } else {
    service_ = what == GitPath::upload_pack ? Service::upload_pack : Service::receive_pack;
    if (req_.method != "POST") {
      reply_.text(405, std::string(service_name(service_)) + " takes POST", {{"Allow", "POST"}});
      log("method " + one_line(req_.method) + " not allowed");
      return;
    }
    std::string want = "application/x-" + std::string(service_name(service_)) + "-request";
    if (!media_type_is(content_type_, want)) {
      reply_.text(415, "Content-Type must be " + want);
      log("bad content type '" + one_line(content_type_) + "'");
      return;
    }
    std::string_view enc = trim(content_encoding_);
    if (iequals(enc, "gzip") || iequals(enc, "x-gzip")) {
      gzip_ = true;
    } else if (!enc.empty() && !iequals(enc, "identity")) {
      reply_.text(415, "unsupported Content-Encoding (gzip only)");
      log("unsupported content encoding '" + one_line(enc) + "'");
      return;
    }
  }
  if (!valid_git_protocol(git_protocol_)) {
    reply_.text(400, "invalid Git-Protocol header");
    log("invalid Git-Protocol header");
    return;
  }
  if (!req_.refusal.empty()) {
    reply_.text(410, req_.refusal);
    log("refused: " + req_.refusal);
    return;
  }
  v2_ = protocol_v2(git_protocol_);
  if (service_ == Service::receive_pack && !advertise_ && answer_probe()) return;
  if (st_.git_path.empty()) {
    reply_.text(500, "git is not installed on this node");
    log("git executable '" + opt_.git + "' not found");
    return;
  }

  ProcessSlots::Slot slot(st_.slots);
  if (!slot.acquire()) {
    reply_.text(503, "too many git processes, retry later",
                {{"Retry-After", std::to_string(opt_.retry_after_seconds)}});
    log("busy (" + std::to_string(opt_.max_processes) + " git processes)");
    return;
  }

  const std::string dir = repo_dir();
  std::string err;
  std::error_code ec;
  if (service_ == Service::upload_pack) {
    if (!fs::is_directory(dir, ec)) {
      reply_.text(404, "repository " + req_.path.repo + " not found on this node");
      log("not found");
      return;
    }
  } else if (advertise_ && !fs::is_directory(dir, ec)) {
    // A push starts with this advertisement, but so does any probe: answer from an empty
    // stand-in, and create the mirror only when a pack actually arrives (the POST).
    const std::string empty = (opt_.repos_dir / kEmptyRepo).string();
    if (!ensure_mirror(empty, &err)) {
      reply_.text(500, "cannot create the repository");
      log(err);
      return;
    }
    git_dir_ = empty;
  }

  if (advertise_) {
    if (!v2_) {
      prefix_ = *pkt_line("# service=" + std::string(service_name(service_)) + "\n");
      prefix_ += kFlushPkt;
    }
    RunOutcome out = run_git(true, slot);
    finish(out, nullptr);
    return;
  }
  if (service_ == Service::upload_pack) {
    holdback_ = !req_.fetch_notice.empty();
    RunOutcome out = run_git(false, slot);
    finish(out, nullptr);
    return;
  }
  receive(slot);
}

// receive-pack: one at a time per repo (and with whoever else moves its refs), with a ref
// snapshot on either side. A first push runs in a mirror built aside, which takes the repo's
// name only if the push changed a ref: a push git refused (fsck, a truncated pack, garbage)
// leaves nothing behind.
void Exchange::receive(ProcessSlots::Slot& slot) {
  const AfterReceive* hook = req_.after_receive   ? &req_.after_receive
                             : opt_.after_receive ? &opt_.after_receive
                                                  : nullptr;
  holdback_ = hook != nullptr;
  const std::string dir = repo_dir();
  std::string err;
  RepoLocks::Guard lock(*st_.locks, req_.path.repo);
  std::error_code ec;
  fs::path aside;
  if (fs::exists(fs::symlink_status(dir, ec)) && !fs::is_directory(dir, ec)) {
    reply_.text(500, "cannot create the repository");
    log(dir + " exists and is not a repository");
    return;
  }
  if (!fs::is_directory(dir, ec)) {
    aside = build_mirror_aside(dir, &err);
    if (aside.empty()) {
      reply_.text(500, "cannot create the repository");
      log(err);
      return;
    }
    git_dir_ = aside.string();
  }
  const std::string run_dir = git_dir_.empty() ? dir : git_dir_;
  RefMap before, after;
  if (!git2::snapshot_refs(run_dir, &before, &err)) {
    reply_.text(500, "cannot read the repository");
    log(err);
    if (!aside.empty()) fs::remove_all(aside, ec);
    return;
  }
  RunOutcome out = run_git(false, slot);
  if (git2::snapshot_refs(run_dir, &after, &err)) {
    result_.updates = diff_refs(before, after);
  } else {
    // Should not happen; the caller then sees no updates, and anti-entropy catches up.
    note_ = "; after-push snapshot failed: " + err;
  }
  if (!aside.empty()) {
    if (!result_.updates.empty() && place_mirror(aside, dir, &err)) {
      result_.created = true;
    } else {
      if (!result_.updates.empty()) note_ += "; " + err;  // cannot happen under the lock
      result_.updates.clear();
      fs::remove_all(aside, ec);
    }
  }
  if (!result_.updates.empty()) {
    adopt_head(dir, after);
    if (req_.on_received) {
      try {
        req_.on_received(result_.updates);
      } catch (const std::exception& e) {
        note_ += std::string("; recording the push failed: ") + e.what();
      }
    }
  }
  lock.release();
  finish(out, hook);
}

// Before a push over http.postBuffer, git POSTs a bare flush packet ("0000") to see whether
// authentication is needed. receive-pack answers that with nothing at all, so this does the
// same without spawning it (one git process fewer per large push). Returns true when it
// answered (or the client went away); otherwise the bytes it read go to git first.
bool Exchange::answer_probe() {
  if (gzip_ || trim(content_length_) != "4") return false;
  char buf[8];
  std::size_t have = 0;
  for (;;) {
    std::size_t got = 0;
    if (io_.read(buf + have, sizeof buf - have, &got) != 0) {
      reply_.end(false);
      log("client went away");
      return true;
    }
    if (got == 0) break;
    have += got;
    if (have == sizeof buf) break;
  }
  body_head_.assign(buf, have);
  if (body_head_ != kFlushPkt) return false;
  if (start_response()) reply_.end(true);
  log("probe (flush packet only): answered without git");
  return true;
}

bool Exchange::ensure_mirror(const std::string& dir, std::string* err) {
  return init_mirror(dir, err) != MirrorInit::failed;
}

std::vector<std::string> Exchange::git_argv(bool advertise) const {
  std::vector<std::string> argv = {
      "git",
      "-c",
      "core.hooksPath=/dev/null",  // nothing in a mirror runs hooks
      "-c",
      "receive.fsckObjects=true",
      "-c",
      "transfer.fsckObjects=true",
      // Nobody pushes into refs/mesh/ (parked tips are the registry's): git itself refuses it
      // ("deny updating a hidden ref"), so a client cannot forge a divergence.
      "-c",
      "receive.hideRefs=refs/mesh/",
  };
  if (req_.local_client) {
    // Users' clones and ls-remote do not see parked tips; they fetch one by its oid.
    argv.insert(argv.end(), {"-c", "uploadpack.hideRefs=refs/mesh/", "-c",
                             "uploadpack.allowTipSHA1InWant=true"});
  }
  argv.push_back(std::string(subcommand(service_)));
  argv.push_back("--stateless-rpc");
  if (advertise) argv.push_back("--advertise-refs");
  argv.push_back(git_dir_.empty() ? repo_dir() : git_dir_);
  return argv;
}

std::vector<std::string> Exchange::child_env() const {
  std::vector<std::string> env = {
      "PATH=" + st_.path_env,        "HOME=" + opt_.repos_dir.string(), "LANG=C",
      "GIT_CONFIG_NOSYSTEM=1",
      "GIT_CONFIG_GLOBAL=/dev/null",  // no ~/.gitconfig, whatever HOME holds
  };
  if (!git_protocol_.empty()) env.push_back("GIT_PROTOCOL=" + git_protocol_);
  return env;
}

ServeResult GitService::serve(const GitRequest& request, HttpIo& io) {
  ServeResult result;
  try {
    Exchange ex(options_, *state_, request, io, result);
    ex.run();
  } catch (const std::exception& e) {
    // Exchange's Reply has aborted whatever was open by now.
    result.log = "internal error: " + std::string(e.what());
  } catch (...) {
    result.log = "internal error";
  }
  return result;
}

}  // namespace mesh::repl
