// The CLI contract (../shared/CLI.md, docs/cli.md) for every command the real binary knows:
// the built-ins and the verbs of a running daemon with replication and issues enabled. Each one is run
// with --help, with --json, with a bad argument, and with no daemon; the checks are the exit
// code, that stdout under --json is exactly one JSON document, and that errors start with
// "error: ".
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "harness.hpp"

using namespace mesh::test;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// Arguments that make a command do its normal, harmless thing on a fresh node (everything not
// listed runs without arguments: whatever it answers, the conventions must hold).
const std::map<std::string, std::vector<std::string>> kTypicalArgs{
    {"join", {"mesh1.not-a-real-token"}},
    {"remove-peer", {"nobody"}},
    {"add-address", {"nobody", "127.0.0.1:1"}},
    {"url", {"my-app"}},
    {"help", {"status"}},
    {"add-repo", {"my-app", "/nonexistent/my-app"}},
    {"remove-repo", {"my-app", "--yes"}},
    {"runner", {"disable"}},
    {"issues", {"status"}},
};
// Run separately: stop ends the daemon phase, start is refused while it runs.
const std::set<std::string> kSkipWhileUp{"stop"};

struct Cli {
  fs::path root;
  fs::path home;

  // The real binary with a private HOME (ssl writes the user's global git config).
  Proc run_mesh(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{mesh_bin(), "--root", root.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {"HOME=" + home.string(), "GIT_CONFIG_NOSYSTEM=1"});
  }
};

// stdout holds exactly one JSON document (boost::json::parse refuses trailing content).
::testing::AssertionResult one_json_document(const Proc& p) {
  boost::system::error_code ec;
  auto v = json::parse(p.out, ec);
  if (ec)
    return ::testing::AssertionFailure()
           << "stdout is not one JSON document: [" << p.out << "] stderr: " << p.err;
  if (p.exit != 0 && !(v.is_object() && v.as_object().contains("error"))) {
    return ::testing::AssertionFailure() << "a failure without {\"error\"}: " << p.out;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult error_line(const Proc& p) {
  if (p.err.rfind("error: ", 0) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "stderr does not start with 'error: ': [" << p.err << "]";
}

std::vector<std::string> typical(const std::string& name) {
  auto it = kTypicalArgs.find(name);
  return it == kTypicalArgs.end() ? std::vector<std::string>{} : it->second;
}

std::vector<std::string> with(std::vector<std::string> head, const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

class CliContract : public ::testing::Test {
 protected:
  TempDir dir{"contract"};
  Node node{dir.path(), "alice"};
  Cli cli;
  std::vector<std::string> commands;  // everything `mesh help` lists, plus internal verbs
  std::set<std::string> plugin_verbs;

  void SetUp() override {
    cli.root = node.root();
    cli.home = dir.path() / "home";
    fs::create_directories(cli.home);
    node.write_config({"replication", "issues"});
    ASSERT_EQ(node.start().exit, 0);
    auto help = cli.run_mesh({"--json", "help"});
    ASSERT_EQ(help.exit, 0) << help.err;
    auto doc = json::parse(help.out);
    for (const auto& c : doc.at("commands").as_array()) {
      commands.emplace_back(c.at("name").as_string());
      if (c.at("owner").as_string() != "core") plugin_verbs.emplace(c.at("name").as_string());
    }
    // The daemon's own list also has the verbs help hides: they follow the contract too.
    auto verbs = json::parse(cli.run_mesh({"--json", "verbs"}).out);
    for (const auto& v : verbs.as_array()) {
      std::string name(v.at("verb").as_string());
      if (v.at("owner").as_string() == "core") continue;
      if (std::find(commands.begin(), commands.end(), name) == commands.end()) {
        commands.push_back(name);
        plugin_verbs.insert(name);
      }
    }
    commands.push_back("help");
  }
};

}  // namespace

TEST_F(CliContract, TheDaemonsVerbsAreCoveredAndInternalOnesHidden) {
  EXPECT_EQ(plugin_verbs.count("repos"), 1u) << "replication's verb is listed";
  EXPECT_EQ(plugin_verbs.count("repos-remove"), 1u) << "and its internal one exists";
  auto help = cli.run_mesh({"help"});
  EXPECT_NE(help.out.find("\n  repos "), std::string::npos) << help.out;
  EXPECT_EQ(help.out.find("repos-remove"), std::string::npos) << "internal verbs are not listed";
  EXPECT_NE(help.out.find("replication"), std::string::npos) << "installed plugins are listed";
}

TEST_F(CliContract, EveryCommandHasHelpBothWays) {
  for (const auto& name : commands) {
    SCOPED_TRACE(name);
    auto a = cli.run_mesh({"help", name});
    EXPECT_EQ(a.exit, 0) << a.err;
    EXPECT_EQ(a.out.rfind("usage: mesh " + name, 0), 0u) << a.out;
    auto b = cli.run_mesh({name, "--help"});
    EXPECT_EQ(b.exit, 0) << b.err;
    EXPECT_EQ(b.out, a.out);
    auto j = cli.run_mesh({"--json", name, "--help"});
    EXPECT_EQ(j.exit, 0) << j.err;
    EXPECT_TRUE(one_json_document(j));
  }
}

TEST_F(CliContract, EveryCommandUnderJsonPrintsOneDocument) {
  for (const auto& name : commands) {
    if (kSkipWhileUp.count(name)) continue;
    SCOPED_TRACE(name);
    auto p = cli.run_mesh(with({"--json", name}, typical(name)));
    EXPECT_LE(p.exit, 2) << p.err;
    EXPECT_TRUE(one_json_document(p));
    if (p.exit != 0) {
      EXPECT_TRUE(error_line(p));
    }
  }
  // The ones with a known outcome on a fresh, running node.
  for (const char* name : {"status", "id", "plugins", "peers", "invite", "help", "repos"}) {
    EXPECT_EQ(cli.run_mesh(with({"--json", name}, typical(name))).exit, 0) << name;
  }
  // A repo this node does not have: an error that creates nothing (issue #10).
  EXPECT_EQ(cli.run_mesh({"--json", "url", "my-app"}).exit, 1);
  auto start = cli.run_mesh({"--json", "start", "--detach"});
  EXPECT_EQ(start.exit, 1) << "already running";
  EXPECT_TRUE(one_json_document(start));
  EXPECT_TRUE(error_line(start));
}

TEST_F(CliContract, EveryCommandRefusesABadArgumentWithExitTwo) {
  // Junk no command accepts: an unknown option and more operands than any takes.
  const std::vector<std::string> junk{"--no-such-option-xyz", "a", "b", "c", "d", "e"};
  for (const auto& name : commands) {
    SCOPED_TRACE(name);
    auto p = cli.run_mesh(with({name}, junk));
    EXPECT_EQ(p.exit, 2) << p.out << p.err;
    EXPECT_TRUE(error_line(p));
    auto j = cli.run_mesh(with({"--json", name}, junk));
    EXPECT_EQ(j.exit, 2);
    EXPECT_TRUE(one_json_document(j));
  }
  EXPECT_TRUE(node.mesh({"status"}).exit == 0) << "nothing above stopped or broke the daemon";
}

TEST_F(CliContract, WithNoDaemonEveryCommandSaysSoOrWorksWithoutIt) {
  auto stop = cli.run_mesh({"--json", "stop"});
  ASSERT_EQ(stop.exit, 0) << stop.err;
  EXPECT_TRUE(one_json_document(stop));
  // Needs no daemon: these work (or fail for their own reason) without mentioning it.
  const std::set<std::string> offline{"init", "id", "pubkey", "help", "stop", "join", "runner"};
  for (const auto& name : commands) {
    if (name == "start") continue;  // would start one
    SCOPED_TRACE(name);
    auto p = cli.run_mesh(with({"--json", name}, typical(name)));
    EXPECT_TRUE(one_json_document(p));
    if (offline.count(name)) {
      EXPECT_EQ(p.err.find("not running"), std::string::npos) << p.err;
      if (name != "join") {
        EXPECT_EQ(p.exit, 0) << p.err;
      }
      continue;
    }
    EXPECT_EQ(p.exit, 1) << p.err;
    EXPECT_TRUE(error_line(p));
    EXPECT_NE(p.err.find("the mesh daemon is not running (start it with: mesh start); looked in " +
                         fs::absolute(node.root()).string()),
              std::string::npos)
        << p.err;
    EXPECT_EQ(p.err.find("error: ", 1), std::string::npos) << "one error, printed once: " << p.err;
  }
  // A plugin's verb is still recognised, and still has help.
  auto help = cli.run_mesh({"repos", "--help"});
  EXPECT_EQ(help.exit, 0);
  EXPECT_NE(help.out.find("not running"), std::string::npos) << help.out;
  // The join did not start a daemon for a token that cannot work.
  EXPECT_EQ(cli.run_mesh({"status"}).exit, 1);
  // stop again: still not an error.
  auto again = cli.run_mesh({"stop"});
  EXPECT_EQ(again.exit, 0);
  EXPECT_NE(again.out.find("not running"), std::string::npos) << again.out;
}

TEST_F(CliContract, TyposAndUnknownOptionsAreUsageErrorsWithSuggestions) {
  ASSERT_EQ(cli.run_mesh({"stop"}).exit, 0);  // a typo must not blame the daemon
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  };
  for (const auto& c : std::vector<Case>{{{"stauts"}, "did you mean 'status'?"},
                                         {{"version"}, "mesh --version"},
                                         {{"-v"}, "did you mean '--version'?"},
                                         {{"--bogus", "status"}, "unknown option '--bogus'"},
                                         {{"repso"}, "did you mean 'repos'?"},
                                         {{"help", "stauts"}, "did you mean 'status'?"},
                                         {{"start", "--listen", "nope"}, "--listen"},
                                         {{"start", "--listen", "127.0.0.1:99999"}, "--listen"}}) {
    SCOPED_TRACE(c.args.front());
    auto p = cli.run_mesh(c.args);
    EXPECT_EQ(p.exit, 2) << p.err;
    EXPECT_TRUE(error_line(p));
    EXPECT_NE(p.err.find(c.needle), std::string::npos) << p.err;
    EXPECT_EQ(p.err.find("not running"), std::string::npos) << p.err;
  }
  EXPECT_EQ(cli.run_mesh({"status"}).exit, 1) << "the bad --listen started nothing";
  auto version = cli.run_mesh({"--json", "--version"});
  EXPECT_EQ(version.exit, 0);
  EXPECT_TRUE(one_json_document(version));
}

TEST_F(CliContract, ARootThatDoesNotExistIsNamed) {
  Cli nowhere{dir.path() / "no-such-root", cli.home};
  auto p = nowhere.run_mesh({"status"});
  EXPECT_EQ(p.exit, 1);
  EXPECT_NE(p.err.find("looked in " + nowhere.root.string() + ", which does not exist"),
            std::string::npos)
      << p.err;
  EXPECT_NE(p.err.find("mesh --root " + nowhere.root.string() + " start"), std::string::npos)
      << p.err;
  EXPECT_FALSE(fs::exists(nowhere.root)) << "asking created nothing";
}

TEST_F(CliContract, TablesAreAlignedWithShortIdsAndAges) {
  auto status = cli.run_mesh({"status"});
  ASSERT_EQ(status.exit, 0);
  std::string id(json::parse(cli.run_mesh({"--json", "id"}).out).at("id").as_string());
  EXPECT_NE(status.out.find(id.substr(5, 12)), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find(id), std::string::npos) << "the full id only with --wide";
  EXPECT_NE(cli.run_mesh({"status", "--wide"}).out.find(id), std::string::npos);
  // The plugin table: a heading, and every row's columns start where the heading's do.
  auto plugins = cli.run_mesh({"plugins"}).out;
  std::istringstream in(plugins);
  std::string heading, row;
  std::getline(in, heading);
  std::getline(in, row);
  EXPECT_EQ(heading.rfind("ID", 0), 0u) << plugins;
  EXPECT_EQ(heading.find("VERSION"), row.find("0.1.0")) << plugins;
}

TEST_F(CliContract, BashCompletionOffersCommandsFlagsAndPluginVerbs) {
  std::string script = std::string(MESH_SOURCE_DIR) + "/cli/completion/mesh.bash";
  auto complete = [&](const std::string& words, int cword) {
    // COMP_WORDS[0] is the binary to ask, as when the user types a path to it.
    return run({"bash", "-c",
                "source \"$0\"; COMP_WORDS=(\"$1\" --root \"$2\" " + words + "); COMP_CWORD=" +
                    std::to_string(cword) + "; _mesh; printf '%s\\n' \"${COMPREPLY[@]}\"",
                script, mesh_bin(), node.root().string()},
               {"HOME=" + cli.home.string()});
  };
  auto cmds = complete("sta", 3);
  EXPECT_EQ(cmds.exit, 0) << cmds.err;
  EXPECT_NE(cmds.out.find("status\n"), std::string::npos) << cmds.out;
  EXPECT_NE(cmds.out.find("start\n"), std::string::npos) << cmds.out;
  EXPECT_NE(complete("rep", 3).out.find("repos\n"), std::string::npos) << "a plugin's verb";
  auto flags = complete("invite --", 4);
  EXPECT_NE(flags.out.find("--wait\n"), std::string::npos) << flags.out;
  EXPECT_NE(flags.out.find("--ttl\n"), std::string::npos) << flags.out;
}
