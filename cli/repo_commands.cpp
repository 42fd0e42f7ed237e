// url and ssl: the git side of the repos commands. (`mesh repos` is the replication plugin's
// own verb, passed through.)
#include <spawn.h>
#include <sys/wait.h>

#include <cctype>
#include <cerrno>
#include <iostream>

#include "cli.hpp"

extern char** environ;

namespace mesh::cli {
namespace json = boost::json;

namespace {

// The same rule as the replication plugin's (plugins/replication/src/names.cpp): the CLI
// refuses early what the daemon would refuse with 400.
bool plausible_repo_name(const std::string& n) {
  if (n.empty() || n.size() > 100 || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return n.find("..") == std::string::npos && !n.ends_with(".git") && !n.ends_with(".lock");
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

int cmd_url(const Globals& g, std::vector<std::string> args) {
  if (args.size() != 1) return error("usage: mesh url REPO", kUsage);
  std::string repo = args[0];
  if (repo.ends_with(".git")) repo.resize(repo.size() - 4);
  if (!plausible_repo_name(repo)) {
    return error("invalid repo name '" + args[0] +
                 "': use letters, digits, '.', '_' and '-' (at most 100, starting with a letter or "
                 "digit)");
  }
  std::string port;
  int code = kOk;
  if (!daemon_port(g, &port, &code)) return code;
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

// git config --global <key> false, run without a shell.
int cmd_ssl(const Globals& g, std::vector<std::string> args) {
  if (!args.empty()) return error("usage: mesh ssl", kUsage);
  std::string port;
  int code = kOk;
  if (!daemon_port(g, &port, &code)) return code;
  const std::string key = "http.https://localhost:" + port + ".sslVerify";
  std::vector<std::string> argv_s = {"git", "config", "--global", key, "false"};
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (::posix_spawnp(&pid, "git", nullptr, nullptr, argv.data(), environ) != 0) {
    return error("cannot run git (is it installed?)");
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return error("git config --global " + key + " false failed");
  }
  if (g.json) {
    print_json(json::object{{"key", key}, {"value", "false"}});
  } else {
    std::cout << "set " << key << "=false in your global git config: git now accepts this node's "
              << "self-signed certificate for https://localhost:" << port << " only\n";
  }
  return kOk;
}

}  // namespace

std::vector<Command> repo_commands() {
  return {
      {"url", "print the git URLs of a repo on this node", "mesh url REPO", cmd_url},
      {"ssl", "let git accept this node's certificate for https://localhost:PORT", "mesh ssl",
       cmd_ssl},
  };
}

}  // namespace mesh::cli
