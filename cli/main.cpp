// `mesh`: the command-line client, and the daemon itself under `mesh start`.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <streambuf>

#include "body_file.hpp"
#include "cli.hpp"
#include "help.hpp"
#include "mesh/app/app.hpp"

namespace mesh::cli {
namespace json = boost::json;
namespace {

constexpr std::size_t kMaxCapturedError = 64 * 1024;

std::filesystem::path default_root() {
  if (const char* r = std::getenv("MESH_ROOT"); r && *r) return r;
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::filesystem::path(home) / ".mesh";
  }
  return ".mesh";
}

// Passes everything through to the real stream and remembers how much went by (stdout) or
// the last "error: " text (stderr), so that --json can end with one JSON document.
class Tap : public std::streambuf {
 public:
  Tap(std::ostream& os, bool keep_text) : os_(os), target_(os.rdbuf()), keep_(keep_text) {
    os_.rdbuf(this);
  }
  ~Tap() override { os_.rdbuf(target_); }
  std::size_t written() const { return written_; }
  // The message of the last "error: " line, without the prefix.
  std::string last_error() const {
    auto at = text_.rfind("error: ");
    while (at != std::string::npos && at > 0 && text_[at - 1] != '\n') {
      at = text_.rfind("error: ", at - 1);
    }
    if (at == std::string::npos) return "";
    std::string msg = text_.substr(at + 7);
    // A message may span lines (e.g. the candidates of an ambiguous name) up to the next
    // "warning: "/"error: " line.
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return msg;
  }

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return target_->pubsync() == 0 ? 0 : traits_type::eof();
    char ch = static_cast<char>(c);
    record(&ch, 1);
    return target_->sputc(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    record(s, static_cast<std::size_t>(n));
    return target_->sputn(s, n);
  }
  int sync() override { return target_->pubsync(); }

 private:
  void record(const char* s, std::size_t n) {
    written_ += n;
    if (!keep_) return;
    text_.append(s, n);
    if (text_.size() > kMaxCapturedError) text_.erase(0, text_.size() - kMaxCapturedError);
  }
  std::ostream& os_;
  std::streambuf* target_;
  bool keep_;
  std::size_t written_ = 0;
  std::string text_;
};

// A verb registered by a plugin: the daemon runs it and answers text (or JSON with --json).
int plugin_verb(const Globals& g, const std::string& verb, std::vector<std::string> args) {
  std::string bad;
  if (verb == "issues" && !inline_body_files(args, &bad)) return error(bad, kUsage);
  control::Reply reply;
  int code = kOk;
  auto on_chunk = [](const std::string& chunk) { std::cout << chunk << std::flush; };
  // A verb that streams until something ends (`mesh ci logs ... --follow`) is not cut off after
  // the usual minute.
  bool follows = std::find(args.begin(), args.end(), "--follow") != args.end();
  auto timeout = follows ? std::chrono::milliseconds(std::chrono::hours(24))
                         : std::chrono::milliseconds(std::chrono::seconds(60));
  if (!call_daemon(g, verb, args, g.json, &reply, &code, on_chunk, timeout)) return code;
  if (reply.exit_code != 0) return error(reply.output, reply.exit_code);
  std::cout << reply.output;
  if (!reply.output.empty() && reply.output.back() != '\n') std::cout << "\n";
  return kOk;
}

// A command that is not built in: a verb of the daemon (plugins), or a typo.
int daemon_command(const Globals& g, const std::vector<Command>& cmds, const std::string& name,
                   const std::vector<std::string>& args, bool want_help) {
  auto verbs = daemon_verbs(g);
  if (!find_verb(verbs, name)) return unknown_command(g, name, cmds, verbs);
  if (want_help) return help(g, cmds, {name});
  // Known from the daemon's last list but it is down now: the daemon is the problem.
  if (!verbs.daemon_up) return error(daemon_down_message(g));
  return plugin_verb(g, name, args);
}

int dispatch(Globals& g, int argc, char** argv) {
  std::vector<std::string> rest;
  bool want_help = false;
  bool after_dashdash = false;
  auto cmds = builtin_commands();
  // Global options may stand before or after the command (mesh status --json), never after
  // --. Before the command, anything else that looks like an option is a usage error.
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (after_dashdash) {
      rest.push_back(a);
    } else if (a == "--") {
      after_dashdash = true;
      rest.push_back(a);
    } else if (a == "--json") {
      g.json = true;
    } else if (a == "--root" || a.rfind("--root=", 0) == 0) {
      if (a == "--root") {
        if (i + 1 >= argc) return error("--root needs a directory", kUsage);
        g.root = argv[++i];
      } else {
        g.root = a.substr(7);
      }
      if (g.root.empty()) return error("--root needs a directory", kUsage);
      g.root_flag = true;
    } else if (a == "--help" || a == "-h") {
      want_help = true;
    } else if (a == "--version" || a == "-V") {
      if (rest.empty()) {
        if (g.json) {
          print_json(json::object{{"version", MESH_VERSION}});
        } else {
          std::cout << "mesh " MESH_VERSION "\n";
        }
        return kOk;
      }
      rest.push_back(a);
    } else if (rest.empty() && a.size() > 1 && a[0] == '-') {
      return unknown_option(a);
    } else {
      rest.push_back(a);
    }
  }
  if (rest.empty()) {
    if (want_help) return help(g, cmds, {});
    return error(
        "no command given\nusage: mesh [--root DIR] [--json] COMMAND [ARGS...] (see: mesh help)",
        kUsage);
  }
  std::string name = rest.front();
  std::vector<std::string> args(rest.begin() + 1, rest.end());
  if (name == "__update-watch") return run_update_watch(g, std::move(args));
  if (name == "help") return want_help ? help(g, cmds, {"help"}) : help(g, cmds, args);
  for (const auto& c : cmds) {
    if (c.name != name) continue;
    if (want_help) return help(g, cmds, {name});
    return c.run(g, std::move(args));
  }
  return daemon_command(g, cmds, name, args, want_help);
}

}  // namespace

int run(int argc, char** argv) {
  Globals g;
  g.root = default_root();
  Tap out(std::cout, false), err(std::cerr, true);
  int code = dispatch(g, argc, argv);
  std::cout.flush();
  // --json: stdout is exactly one JSON document, also when the command failed before it
  // printed one (the message also stays on stderr, where people read it).
  if (g.json && code != kOk && out.written() == 0) {
    std::string msg = err.last_error();
    print_json(json::object{{"error", msg.empty() ? "the command failed (see stderr)" : msg},
                            {"exit", code}});
  }
  std::cout.flush();
  return code;
}

}  // namespace mesh::cli

int main(int argc, char** argv) {
  try {
    return mesh::cli::run(argc, argv);
  } catch (const std::exception& e) {
    return mesh::cli::error(std::string("internal error: ") + e.what());
  }
}
