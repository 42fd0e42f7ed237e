// `mesh issues ...`: argument parsing (usage errors are exit 2, before anything is published),
// the JSON keys of ../shared/CLI.md, the tables, the errors, and answering after the op is back.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>

#include "cli.hpp"
#include "cli_text.hpp"
#include "glue_util.hpp"

namespace mesh::issues {
namespace {
namespace json = boost::json;
using test::Loop;

struct Cli {
  Loop loop;
  IssuesCli cli{*loop.service, *loop.actions, [] { return std::uint64_t{1'700'000'100'000}; }};

  // Runs a command the way the plugin does: the reply now, or after the op came back.
  CliReply run(std::vector<std::string> args, bool json_out = false) {
    CliOutcome out = cli.run(args, json_out);
    if (out.wait_seq == 0) return out.reply;
    std::optional<CliReply> reply;
    loop.service->when_taken(out.wait_seq, Service::Clock::now() + std::chrono::hours(1),
                             [&](Taken t) { reply = out.finish(t); });
    EXPECT_FALSE(reply) << "answered before the op came back";
    loop.pump();
    EXPECT_TRUE(reply);
    return reply.value_or(CliReply{-1, "no reply"});
  }
  json::value js(std::vector<std::string> args) {
    CliReply r = run(std::move(args), true);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    boost::system::error_code ec;
    json::value v = json::parse(r.output, ec);
    EXPECT_FALSE(ec) << r.output;
    return v;
  }
};

TEST(CliParse, UsageErrorsSayWhatIsWrong) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Case> cases{
      {{}, "needs a subcommand"},
      {{"frobnicate", "app"}, "unknown subcommand 'frobnicate'"},
      {{"list"}, "takes REPO"},
      {{"list", "app", "extra"}, "takes REPO"},
      {{"show", "app"}, "takes REPO and ID"},
      {{"list", "app", "--state", "done"}, "--state is open, closed or all"},
      {{"list", "app", "--bogus"}, "unknown option --bogus"},
      {{"show", "app", "1", "--title", "x"}, "unknown option --title"},
      {{"new", "app"}, "needs --title"},
      {{"new", "app", "--title"}, "--title needs a value"},
      {{"new", "app", "--title", "a", "--title", "b"}, "--title is given twice"},
      {{"new", "app", "--title", "a", "--body", "x", "--body-file", "/f"}, "give the body once"},
      {{"edit", "app", "1"}, "needs --title, --body or --body-file"},
      {{"comment", "app", "1"}, "needs --body or --body-file"},
      {{"label", "app", "1"}, "needs at least one +X or -X"},
      {{"move", "app", "1"}, "needs --before ID or --after ID"},
      {{"move", "app", "1", "--before", "2", "--after", "3"}, "give one of --before and --after"},
  };
  for (const auto& c : cases) {
    CliParse p = parse_cli(c.args);
    EXPECT_FALSE(p.command) << c.says;
    EXPECT_NE(p.usage_error.find(c.says), std::string::npos) << p.usage_error;
    EXPECT_NE(p.usage_error.find("usage: mesh issues"), std::string::npos);
  }
}

TEST(CliParse, OptionsAndLabelChanges) {
  CliParse p = parse_cli({"new", "app", "--title=Crash", "--label", "bug", "--label=ui", "--body",
                          "-starts with a dash"});
  ASSERT_TRUE(p.command) << p.usage_error;
  EXPECT_EQ(*p.command->title, "Crash");
  EXPECT_EQ(p.command->labels, (std::vector<std::string>{"bug", "ui"}));
  EXPECT_EQ(*p.command->body, "-starts with a dash");

  p = parse_cli({"label", "app", "#3", "+bug", "-wontfix", "--add", "-odd", "--remove", "+x"});
  ASSERT_TRUE(p.command) << p.usage_error;
  EXPECT_EQ(p.command->add, (std::vector<std::string>{"bug", "-odd"}));
  EXPECT_EQ(p.command->remove, (std::vector<std::string>{"wontfix", "+x"}));

  p = parse_cli({"list", "app", "--state", "all", "--label", "good first issue"});
  ASSERT_TRUE(p.command);
  EXPECT_EQ(p.command->state, StateFilter::all);
  EXPECT_EQ(*p.command->label_filter, "good first issue");

  p = parse_cli({"move", "app", "12", "--after=#3"});
  ASSERT_TRUE(p.command);
  EXPECT_EQ(*p.command->place, Place::after);
  EXPECT_EQ(p.command->target, "#3");

  // After "--" everything is positional.
  p = parse_cli({"show", "--", "app", "-1"});
  ASSERT_TRUE(p.command) << p.usage_error;
  EXPECT_EQ(p.command->id, "-1");
}

TEST(Cli, NewListShowWithTheKeysOfTheContract) {
  Cli c;
  json::value created = c.js(
      {"new", "app", "--title", "Crash on start", "--body", "It *crashes*.", "--label", "bug"});
  ASSERT_TRUE(created.is_object());
  EXPECT_EQ(created.at("num").as_int64(), 1);
  EXPECT_EQ(created.at("id").as_string().size(), 32u);
  EXPECT_EQ(created.at("ref").as_string(), "#1");
  c.run({"new", "app", "--title", "Docs typo"});

  json::value list = c.js({"list", "app"});
  ASSERT_EQ(list.as_array().size(), 2u);
  for (const char* key :
       {"id", "num", "title", "state", "labels", "assignees", "author", "updated_ms"}) {
    EXPECT_TRUE(list.as_array()[0].as_object().contains(key)) << key;
  }
  EXPECT_EQ(list.as_array()[0].at("author").as_string(), "alice") << "the member's name";

  json::value shown = c.js({"show", "app", "#1"});
  for (const char* key :
       {"id", "num", "title", "body", "state", "labels", "assignees", "author", "comments"}) {
    EXPECT_TRUE(shown.as_object().contains(key)) << key;
  }
  EXPECT_EQ(shown.at("body").as_string(), "It *crashes*.");
  EXPECT_EQ(c.js({"show", "app", "1"}).at("id"), shown.at("id"));
  std::string prefix = std::string(shown.at("id").as_string()).substr(0, 6);
  EXPECT_EQ(c.js({"show", "app", prefix}).at("id"), shown.at("id"));

  CliReply table = c.run({"list", "app"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_EQ(table.output.substr(0, table.output.find('\n')),
            "REF  STATE  TITLE           LABELS  ASSIGNEES  AUTHOR  UPDATED");
  EXPECT_NE(table.output.find("#1   open   Crash on start  bug"), std::string::npos)
      << table.output;
  CliReply text = c.run({"show", "app", "1"});
  EXPECT_NE(text.output.find("It *crashes*."), std::string::npos);
}

TEST(Cli, ChangesAnswerWithTheirShapes) {
  Cli c;
  c.run({"new", "app", "--title", "one"});
  c.run({"new", "app", "--title", "two"});
  EXPECT_EQ(json::serialize(c.js({"edit", "app", "1", "--title", "One"})), R"({"ok":true})");
  EXPECT_EQ(json::serialize(c.js({"comment", "app", "1", "--body", "**me too**"})),
            R"({"ok":true})");
  EXPECT_EQ(json::serialize(c.js({"close", "app", "1"})), R"({"ok":true})");
  EXPECT_EQ(json::serialize(c.js({"reopen", "app", "1"})), R"({"ok":true})");
  EXPECT_EQ(json::serialize(c.js({"label", "app", "1", "+bug", "+ui"})),
            R"({"ok":true,"labels":["bug","ui"]})");
  EXPECT_EQ(json::serialize(c.js({"label", "app", "1", "-bug"})), R"({"ok":true,"labels":["ui"]})");
  EXPECT_EQ(json::serialize(c.js({"move", "app", "2", "--before", "1"})), R"({"ok":true})");
  json::value list = c.js({"list", "app"});
  EXPECT_EQ(list.as_array()[0].at("num").as_int64(), 2) << "moved in front";
  json::value one = c.js({"show", "app", "1"});
  EXPECT_EQ(one.at("title").as_string(), "One");
  EXPECT_EQ(one.at("comments").as_array()[0].at("body").as_string(), "**me too**");
  EXPECT_EQ(one.at("state").as_string(), "open");

  // No-ops say so and publish nothing.
  std::size_t before = c.loop.queue.size();
  EXPECT_EQ(c.run({"reopen", "app", "1"}).output, "#1 is open already\n");
  EXPECT_EQ(c.run({"move", "app", "2", "--before", "1"}).output, "#2 is before 1 already\n");
  EXPECT_EQ(c.loop.queue.size(), before);

  // A comment edit by its author.
  std::string cid =
      std::string(one.at("comments").as_array()[0].at("id").as_string()).substr(0, 8);
  EXPECT_EQ(c.run({"comment", "app", "1", "--edit", cid, "--body", "edited"}).exit_code, 0);
  EXPECT_EQ(c.js({"show", "app", "1"}).at("comments").as_array()[0].at("body").as_string(),
            "edited");
}

TEST(Cli, FailuresAreExitOneWithAMessageAndPublishNothing) {
  Cli c;
  c.run({"new", "app", "--title", "x"});
  c.loop.queue.clear();
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Case> cases{
      {{"new", "app", "--title", std::string(257, 'a')}, "257 bytes; at most 256"},
      {{"new", "app", "--title", "x", "--body", std::string(61441, 'b')}, "61441"},
      {{"new", "nope", "--title", "x"}, "no repo nope on this node"},
      {{"new", "bad..name", "--title", "x"}, "repo"},
      {{"list", "nope"}, "no repo nope"},
      {{"show", "app", "99"}, "no issue 99 in app"},
      {{"show", "app", "#zz"}, "invalid issue id"},
      {{"comment", "app", "1", "--body", "   "}, "the comment is empty"},
      {{"label", "app", "1", "+has,comma"}, "label"},
      {{"move", "app", "1", "--before", "1"}, "cannot move next to itself"},
      {{"comment", "app", "1", "--edit", "zz", "--body", "x"}, "hex"},
  };
  for (const auto& k : cases) {
    CliReply r = c.run(k.args);
    EXPECT_EQ(r.exit_code, 1) << k.says << ": " << r.output;
    EXPECT_NE(r.output.find(k.says), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("error:"), std::string::npos) << "the CLI adds the prefix";
  }
  std::vector<std::string> many{"label", "app", "1"};
  for (int i = 0; i < 65; ++i) many.push_back("+l" + std::to_string(i));
  CliReply r = c.run(many);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("at most 64 labels"), std::string::npos) << r.output;
  EXPECT_TRUE(c.loop.queue.empty()) << "a refused command publishes nothing";
  EXPECT_EQ(c.run({"frob"}).exit_code, 2);
}

TEST(Cli, AmbiguousNumbersListTheCandidates) {
  Cli c;
  test::Node bob("mesh:bob");
  test::Node carol("mesh:carol");
  ASSERT_TRUE(c.loop.service->on_event(bob.publish(test::create_op("app", 4, "Crash")).view()));
  ASSERT_TRUE(c.loop.service->on_event(carol.publish(test::create_op("app", 4, "Typo")).view()));
  CliReply r = c.run({"show", "app", "#4"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("#4 is ambiguous"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(Crash)"), std::string::npos);
  EXPECT_NE(r.output.find("(Typo)"), std::string::npos);
  // The next create claims 5.
  EXPECT_EQ(c.js({"new", "app", "--title", "next"}).at("num").as_int64(), 5);
}

TEST(Cli, BodyFilesAreReadByTheDaemonFromAbsolutePathsOnly) {
  test::TempDir dir;
  auto file = dir.path() / "body.md";
  { std::ofstream(file) << "# From a file\n\nwith *markdown*\n"; }
  Cli c;
  json::value created = c.js({"new", "app", "--title", "t", "--body-file", file.string()});
  EXPECT_EQ(c.js({"show", "app", "1"}).at("body").as_string(),
            "# From a file\n\nwith *markdown*\n");
  (void)created;

  CliReply rel = c.run({"new", "app", "--title", "t", "--body-file", "body.md"});
  EXPECT_EQ(rel.exit_code, 2);
  EXPECT_NE(rel.output.find("absolute path"), std::string::npos) << rel.output;
  EXPECT_NE(rel.output.find("$PWD/body.md"), std::string::npos) << rel.output;
  CliReply in = c.run({"comment", "app", "1", "--body-file", "-"});
  EXPECT_EQ(in.exit_code, 2);
  EXPECT_NE(in.output.find("standard input"), std::string::npos) << in.output;
  CliReply missing = c.run({"comment", "app", "1", "--body-file", "/nonexistent/x.md"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("not a readable file"), std::string::npos);
  CliReply dirpath = c.run({"comment", "app", "1", "--body-file", dir.path().string()});
  EXPECT_EQ(dirpath.exit_code, 2);
  { std::ofstream(file, std::ios::trunc) << std::string(61441, 'x'); }
  CliReply big = c.run({"comment", "app", "1", "--body-file", file.string()});
  EXPECT_EQ(big.exit_code, 2);
  EXPECT_NE(big.output.find("larger than the body limit"), std::string::npos) << big.output;
}

TEST(Cli, ATimedOutWaitStillSucceedsAndSaysSo) {
  Cli c;
  CliOutcome out = c.cli.run({"new", "app", "--title", "slow"}, false);
  ASSERT_NE(out.wait_seq, 0u);
  CliReply r = out.finish(Taken{});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("created #1 in app"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not visible on this node yet"), std::string::npos);
}

TEST(CliText, TablesAlignByCodePointsAndTimesAreRelative) {
  EXPECT_EQ(table({{"a", "bb", "c"}, {"ééé", "b", "c"}}), "a    bb  c\nééé  b   c\n");
  EXPECT_EQ(fit("abcdef", 4), "abc\u2026");
  EXPECT_EQ(fit("ééééé", 3), "éé\u2026");
  EXPECT_EQ(ago(1000, 3000), "just now");
  EXPECT_EQ(ago(1000, 61'000), "1m ago");
  EXPECT_EQ(ago(0, 5), "-");
  EXPECT_EQ(ago(1'700'000'000'000, 1'700'000'000'000 + 40ull * 86400 * 1000), "2023-11-14");
  EXPECT_EQ(terminal_text("a\r\nb\rc"), "a\nb\nc");
}

}  // namespace
}  // namespace mesh::issues
