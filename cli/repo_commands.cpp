// url, ssl, add-repo and remove-repo: the git side of the repos commands. (`mesh repos`,
// `mesh drop` and `mesh restore-repo` are the replication plugin's own verbs, passed through.)
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mesh/identity/local_tls.hpp"
#include "mesh/names.hpp"

extern char** environ;

namespace mesh::cli {
namespace json = boost::json;

namespace {

// The rule every part of mesh applies (mesh/names.hpp): the CLI refuses early what the daemon
// would refuse with 400.
bool plausible_repo_name(const std::string& n) {
  return names::valid_repo_name(n);
}

// The port the running daemon listens on, from `status`.
bool daemon_port(const Globals& g, std::string* port, int* code) {
  control::Reply reply;
  if (!call_daemon(g, "status", {}, true, &reply, code)) return false;
  json::value v;
  if (!parse_reply(reply, &v)) {
    *code = kFailed;
    return false;
  }
  std::string listen = v.is_object() && v.as_object().contains("node")
                           ? str(v.as_object().at("node"), "listen")
                           : std::string();
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    *code = error("the daemon did not report its listen address");
    return false;
  }
  *port = listen.substr(colon + 1);
  return true;
}

constexpr const char* kNameRule =
    "use letters, digits, '.', '_' and '-' (at most 100, starting with a letter or digit)";

// The repos this node serves, from the replication plugin's `repos` verb.
bool repo_names(const Globals& g, std::vector<std::string>* names, int* code) {
  control::Reply reply;
  if (!call_daemon(g, "repos", {}, true, &reply, code)) return false;
  if (reply.exit_code != 0) {
    *code =
        error("the replication plugin does not answer (mesh plugins shows why): " + reply.output);
    return false;
  }
  json::value v;
  if (!parse_reply(reply, &v) || !v.is_array()) {
    *code = kFailed;
    return false;
  }
  for (const auto& r : v.as_array()) names->push_back(str(r, "name"));
  return true;
}

bool has_repo(const std::vector<std::string>& names, const std::string& repo) {
  return std::find(names.begin(), names.end(), repo) != names.end();
}

struct GitRun {
  int exit = -1;
  std::string out, err;
};

// git with an argv (no shell), stdin from /dev/null, both outputs captured.
GitRun run_git(const std::vector<std::string>& args) {
  GitRun r;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return r;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<std::string> argv_s{"git"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, "git", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    r.err = "cannot run git (is it installed?)";
    return r;
  }
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[16384];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else if ((i == 0 ? r.out : r.err).size() < (1u << 20)) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return r;
}

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

int cmd_url(const Globals& g, std::vector<std::string> args) {
  if (args.size() != 1) return error("usage: mesh url REPO", kUsage);
  std::string repo = args[0];
  if (repo.ends_with(".git")) repo.resize(repo.size() - 4);
  if (!plausible_repo_name(repo)) {
    return error("invalid repo name '" + args[0] + "': " + kNameRule);
  }
  std::string port;
  int code = kOk;
  if (!daemon_port(g, &port, &code)) return code;
  std::vector<std::string> names;
  if (!repo_names(g, &names, &code)) return code;
  if (!has_repo(names, repo)) {
    return error("no repo named " + repo + " on this node (add one with: mesh add-repo " + repo +
                 " PATH; mesh repos lists them)");
  }
  json::object out{{"https", "https://localhost:" + port + "/" + repo + ".git"},
                   {"http", "http://127.0.0.1:" + port + "/" + repo + ".git"}};
  if (g.json) {
    print_json(out);
  } else {
    std::cout << out["https"].as_string().c_str() << "\n"
              << out["http"].as_string().c_str() << "  (loopback only)\n";
  }
  return kOk;
}

// Makes the git repository at PATH a mesh repo: its branches and tags go into this node by the
// same path as any `git push` (so they replicate), and it gets a remote `mesh` for this node.
int cmd_add_repo(const Globals& g, std::vector<std::string> args) {
  if (args.size() != 2) return error("usage: mesh add-repo NAME PATH", kUsage);
  const std::string& repo = args[0];
  const std::string& path = args[1];
  if (!plausible_repo_name(repo)) return error("invalid repo name '" + repo + "': " + kNameRule);
  // The daemon first: without it nothing below can happen, and that is the thing to fix.
  std::string port;
  int code = kOk;
  if (!daemon_port(g, &port, &code)) return code;
  GitRun probe = run_git({"-C", path, "rev-parse", "--git-dir"});
  if (probe.exit != 0) {
    return error(path + " is not a git repository" +
                 (probe.err.empty() ? "" : " (" + first_line(probe.err) + ")"));
  }
  GitRun refs =
      run_git({"-C", path, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/tags"});
  std::size_t branches = 0, tags = 0;
  for (std::size_t i = 0; i < refs.out.size();) {
    std::size_t j = refs.out.find('\n', i);
    if (j == std::string::npos) j = refs.out.size();
    std::string line = refs.out.substr(i, j - i);
    branches += line.starts_with("refs/heads/");
    tags += line.starts_with("refs/tags/");
    i = j + 1;
  }
  if (refs.exit != 0 || branches + tags == 0) {
    return error(path + " has no branches or tags to add (commit something first)");
  }
  std::vector<std::string> names;
  if (!repo_names(g, &names, &code)) return code;
  const std::string https = "https://localhost:" + port + "/" + repo + ".git";
  if (has_repo(names, repo)) {
    return error("the mesh has a repo named " + repo + " already; clone it with: git clone " +
                 https + " (or pick another name)");
  }
  // Plain http on loopback: no certificate to trust yet for this first push.
  const std::string http = "http://127.0.0.1:" + port + "/" + repo + ".git";
  GitRun push = run_git({"-C", path, "push", "--porcelain", http, "refs/heads/*:refs/heads/*",
                         "refs/tags/*:refs/tags/*"});
  if (push.exit != 0) {
    std::string why;
    for (std::size_t i = 0; i < push.err.size();) {
      std::size_t j = push.err.find('\n', i);
      if (j == std::string::npos) j = push.err.size();
      std::string line = push.err.substr(i, j - i);
      if (!line.empty()) why += "\n  " + line;
      i = j + 1;
    }
    return error("pushing " + path + " to this node failed:" + why);
  }
  std::string replicated;
  if (auto at = push.err.find("mesh: replicated"); at != std::string::npos) {
    replicated = first_line(push.err.substr(at + 6));
  }
  // The remote: added, or left alone when `mesh` exists with another URL.
  std::string remote = "mesh", left;
  GitRun existing = run_git({"-C", path, "remote", "get-url", "mesh"});
  if (existing.exit == 0) {
    std::string url = first_line(existing.out);
    if (url != https && url != http) {
      left = url;
      remote.clear();
    }
  } else {
    GitRun add = run_git({"-C", path, "remote", "add", "mesh", https});
    if (add.exit != 0) return error("git remote add mesh " + https + " failed: " + add.err);
  }
  std::size_t total = branches + tags;
  if (g.json) {
    json::object out{{"name", repo}, {"refs", total}, {"remote", remote}, {"url", https}};
    if (!left.empty()) out["remote_left"] = left;
    if (!replicated.empty()) out["replicated"] = replicated;
    print_json(out);
    return kOk;
  }
  std::cout << "added " << repo << ": pushed " << branches
            << (branches == 1 ? " branch" : " branches") << " and " << tags
            << (tags == 1 ? " tag" : " tags") << " to this node"
            << (replicated.empty() ? "" : " (" + replicated + ")") << "\n";
  if (left.empty()) {
    std::cout << "remote 'mesh' in " << path << " -> " << https << "\n";
  } else {
    std::cout << "remote 'mesh' in " << path << " points at " << left
              << " already and was left as it is; to add this node under another name:\n"
              << "  git -C " << path << " remote add mesh-" << port << " " << https << "\n";
  }
  const std::string r = left.empty() ? "mesh" : "mesh-" + port;
  std::cout << "next:\n"
            << "  mesh ssl                 once, so that git trusts this node's certificate\n"
            << "  git push " << r << " <branch>   every push replicates to the whole team\n"
            << "  mesh repos               the repo here, and any divergence\n"
            << "  teammates: git clone https://localhost:PORT/" << repo
            << ".git (their node's port: mesh url " << repo << ")\n";
  return kOk;
}

// Removes a repo from the whole mesh after a confirmation (--yes in scripts).
int cmd_remove_repo(const Globals& g, std::vector<std::string> args) {
  bool yes = false;
  std::vector<std::string> rest;
  for (auto& a : args) {
    if (a == "--yes" || a == "-y") {
      yes = true;
    } else {
      rest.push_back(a);
    }
  }
  if (rest.size() != 1) return error("usage: mesh remove-repo NAME [--yes]", kUsage);
  const std::string& repo = rest[0];
  if (!plausible_repo_name(repo)) return error("invalid repo name '" + repo + "': " + kNameRule);
  std::vector<std::string> names;
  int code = kOk;
  if (!repo_names(g, &names, &code)) return code;
  if (!has_repo(names, repo)) return error("no repo named " + repo + " on this node");
  if (!yes) {
    if (!::isatty(0)) {
      return error("remove-repo asks for confirmation; in a script pass --yes");
    }
    std::cerr << "Remove " << repo << " from every node of the mesh? It stays recoverable for 30 "
              << "days (mesh restore-repo " << repo
              << ").\nType the repo name to confirm: " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != repo) return error("not confirmed; nothing was removed");
  }
  control::Reply reply;
  if (!call_daemon(g, "repos-remove", {repo}, g.json, &reply, &code)) return code;
  if (reply.exit_code != 0) return error(reply.output, reply.exit_code);
  std::cout << reply.output;
  if (!reply.output.empty() && reply.output.back() != '\n') std::cout << "\n";
  return kOk;
}

// Points git at this node's own certificates for https://localhost:PORT, so verification stays
// on: git config --global http.https://localhost:PORT.sslCAInfo <root>/tls/local-ca.pem.
int cmd_ssl(const Globals& g, std::vector<std::string> args) {
  if (!args.empty()) return error("usage: mesh ssl", kUsage);
  std::string port;
  int code = kOk;
  if (!daemon_port(g, &port, &code)) return code;
  std::error_code ec;
  const std::string ca = std::filesystem::absolute(identity::local_ca_path(g.root), ec).string();
  if (ec || !std::filesystem::exists(ca, ec)) {
    return error("no certificate file at " + ca +
                 ": the daemon writes it when it starts (restart it: mesh stop; mesh start)");
  }
  const std::string base = "http.https://localhost:" + port;
  const std::string key = base + ".sslCAInfo";
  GitRun set = run_git({"config", "--global", key, ca});
  if (set.exit == -1) return error("cannot run git (is it installed?)");
  if (set.exit != 0) return error("git config --global " + key + " " + ca + " failed: " + set.err);
  // An earlier `mesh ssl` (or the user) may have turned verification off for this URL.
  const std::string verify = run_git({"config", "--global", "--get", base + ".sslVerify"}).out;
  const bool verify_off = verify.starts_with("false") || verify.starts_with("0") ||
                          verify.starts_with("no") || verify.starts_with("off");
  if (g.json) {
    print_json(json::object{{"key", key}, {"value", ca}});
  } else {
    std::cout << "set " << key << "=" << ca << " in your global git config.\n"
              << "git now checks https://localhost:" << port
              << " against this node's own certificates: verification stays on, and a "
                 "different certificate at that address is refused.\n";
  }
  // git lets these override any configured CA file.
  for (const char* var : {"GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY"}) {
    if (const char* v = std::getenv(var); v && *v) {
      std::cerr << "note: " << var << " is set in your environment and overrides this setting "
                << "for git run from it\n";
    }
  }
  if (verify_off) {
    std::cerr << "note: " << base << ".sslVerify=false is also set, which turns that check off; "
              << "remove it with: git config --global --unset " << base << ".sslVerify\n";
  }
  return kOk;
}

}  // namespace

std::vector<Command> repo_commands() {
  return {
      {"url", "print the git URLs of a repo on this node", "mesh url REPO", cmd_url},
      {"ssl", "make git verify https://localhost:PORT against this node's own certificate",
       "mesh ssl", cmd_ssl},
      {"add-repo", "make a local git repository a mesh repo (push it here, add a remote)",
       "mesh add-repo NAME PATH", cmd_add_repo},
      {"remove-repo", "remove a repo from every node (recoverable for 30 days)",
       "mesh remove-repo NAME [--yes]", cmd_remove_repo},
  };
}

}  // namespace mesh::cli
