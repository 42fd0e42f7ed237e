#include "ops.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "limits.hpp"
#include "test_util.hpp"

using namespace mesh::issues;
using namespace mesh::issues::test;

namespace {

const std::string kIssue(32, 'a');
const std::string kTag(32, 'b');

std::vector<Op> one_of_each() {
  std::vector<Op> ops;
  ops.push_back(create_op("my-app", 12, "Crash on start", "a0V", {"bug", "P1"}));
  ops.back().body = "It **crashes**.\n";
  Op op = issue_op(Kind::edit_title, "my-app", kIssue);
  op.title = "Crash at start";
  ops.push_back(op);
  op = issue_op(Kind::edit_body, "my-app", kIssue);
  op.body = "";
  ops.push_back(op);
  op = issue_op(Kind::set_state, "my-app", kIssue);
  op.state = State::closed;
  op.commit = std::string(40, 'c');
  ops.push_back(op);
  op = issue_op(Kind::set_state, "my-app", kIssue);
  ops.push_back(op);
  op = issue_op(Kind::add_label, "my-app", kIssue);
  op.value = "bug";
  ops.push_back(op);
  op = issue_op(Kind::remove_label, "my-app", kIssue);
  op.value = "bug";
  op.tags = {kTag, kIssue};
  ops.push_back(op);
  op = issue_op(Kind::assign, "my-app", kIssue);
  op.value = "alice";
  ops.push_back(op);
  op = issue_op(Kind::unassign, "my-app", kIssue);
  op.value = "alice";
  op.tags = {kTag};
  ops.push_back(op);
  op = issue_op(Kind::comment, "my-app", kIssue);
  op.body = "me too";
  ops.push_back(op);
  op = issue_op(Kind::edit_comment, "my-app", kIssue);
  op.comment = kTag;
  op.body = "me too (edited)";
  ops.push_back(op);
  op = issue_op(Kind::move, "my-app", kIssue);
  op.order = "a1";
  ops.push_back(op);
  return ops;
}

Problem refused(std::string_view payload) {
  ParsedOp p = parse_op(payload);
  EXPECT_FALSE(p.op) << payload.substr(0, 200);
  return p.problem;
}

std::string with(std::string_view fields) {
  return R"({"v":1,"repo":"my-app","issue":")" + kIssue + "\"," + std::string(fields) + "}";
}

}  // namespace

TEST(IssuesOps, EveryKindRoundTrips) {
  for (const Op& op : one_of_each()) {
    ASSERT_FALSE(validate(op)) << validate(op)->message;
    std::string json = encode_op(op);
    ParsedOp back = parse_op(json);
    ASSERT_TRUE(back.op) << json << ": " << back.problem.message;
    EXPECT_EQ(*back.op, op) << json;
    EXPECT_EQ(encode_op(*back.op), json) << "the encoding is canonical";
  }
}

TEST(IssuesOps, DocumentedExampleParses) {
  // docs/protocol.md shows this create.
  auto p = parse_op(
      R"({"v":1,"op":"create","repo":"my-app","num":12,"title":"Crash on start","body":"It crashes.","labels":["bug"],"order":"a0V"})");
  ASSERT_TRUE(p.op) << p.problem.message;
  EXPECT_EQ(p.op->num, 12u);
  EXPECT_EQ(p.op->labels, std::vector<std::string>{"bug"});
  // Optional fields may be left out; unknown keys are ignored.
  p = parse_op(
      R"({"v":1,"op":"create","repo":"r","num":1,"title":"t","order":"a0","later":{"x":1}})");
  ASSERT_TRUE(p.op) << p.problem.message;
  EXPECT_TRUE(p.op->body.empty());
}

TEST(IssuesOps, RefusalsNameTheirReason) {
  EXPECT_EQ(refused("").reason, "malformed");
  EXPECT_EQ(refused("[1,2]").reason, "malformed");
  EXPECT_EQ(refused(R"({"v":1,"op":"create"")").reason, "malformed");
  EXPECT_EQ(refused(R"({"op":"create"})").reason, "version");
  EXPECT_EQ(refused(R"({"v":2,"op":"create"})").reason, "version");
  EXPECT_EQ(refused(R"({"v":1})").reason, "malformed");
  Problem unknown = refused(R"({"v":1,"op":"delete_everything","repo":"r"})");
  EXPECT_EQ(unknown.reason, "kind");
  EXPECT_EQ(unknown.message, "unknown op kind \"delete_everything\"");
  EXPECT_EQ(refused(R"({"v":1,"op":"\u001b[2J"})").message, "unknown op kind");
  EXPECT_EQ(refused(with(R"("op":"edit_title","title":7)")).message, "\"title\" is not a string");
  EXPECT_EQ(refused(with(R"("op":"edit_title")")).message, "missing \"title\"");
  EXPECT_EQ(refused(with(R"("op":"edit_title","title":"")")).reason, "title");
  EXPECT_EQ(refused(with(R"("op":"edit_title","title":")" + std::string(300, 'x') + "\"")).reason,
            "title");
  EXPECT_EQ(
      refused(with(R"("op":"edit_body","body":")" + std::string(kMaxBody + 1, 'x') + "\"")).message,
      "the body is 61441 bytes; at most 61440 (60 KiB) are allowed");
  EXPECT_EQ(refused(with(R"("op":"comment","body":"  \n")")).message, "the comment is empty");
  EXPECT_EQ(
      refused(with(R"("op":"comment","body":")" + std::string(kMaxBody + 1, 'x') + "\"")).reason,
      "comment");
  EXPECT_EQ(refused(with(R"("op":"set_state","state":"done")")).reason, "state");
  EXPECT_EQ(
      refused(with(R"("op":"set_state","state":"open","commit":")" + std::string(40, 'c') + "\""))
          .reason,
      "commit");
  EXPECT_EQ(refused(with(R"("op":"add_label","label":"+x")")).reason, "label");
  EXPECT_EQ(refused(with(R"("op":"remove_label","label":"x","tags":[]})")).reason, "malformed");
  EXPECT_EQ(refused(with(R"("op":"remove_label","label":"x","tags":[])")).reason, "tags");
  EXPECT_EQ(refused(with(R"("op":"remove_label","label":"x","tags":["nothex"])")).reason, "tags");
  EXPECT_EQ(refused(with(R"("op":"assign","who":"a b")")).reason, "assignee");
  EXPECT_EQ(refused(with(R"("op":"edit_comment","comment":"x","body":"b")")).reason, "comment");
  EXPECT_EQ(refused(with(R"("op":"move","order":"a00")")).reason, "order");
  EXPECT_EQ(refused(R"({"v":1,"op":"move","repo":"my-app","issue":"ABC","order":"a1"})").reason,
            "issue");
  EXPECT_EQ(refused(R"({"v":1,"op":"move","repo":"../x","issue":")" + kIssue + R"(","order":"a1"})")
                .reason,
            "repo");
}

TEST(IssuesOps, CreateLimits) {
  Op op = create_op("my-app", 1, "t");
  for (int i = 0; i < 64; ++i) op.labels.push_back("l" + std::to_string(i));
  EXPECT_FALSE(validate(op));
  ASSERT_TRUE(parse_op(encode_op(op)).op);
  op.labels.push_back("one-too-many");
  EXPECT_EQ(validate(op)->message, "an issue has 65 labels; at most 64 are allowed");
  Problem p = parse_op(encode_op(op)).problem;
  EXPECT_EQ(p.reason, "labels");
  EXPECT_EQ(p.message, "the op lists 65 labels; at most 64 are allowed");
  op.labels = {"bug", "bug"};
  EXPECT_EQ(validate(op)->message, "label \"bug\" is listed twice");
  op.labels.clear();
  op.num = 0;
  EXPECT_EQ(validate(op)->reason, "num");
  op.num = kMaxIssueNumber + 1;
  EXPECT_EQ(validate(op)->reason, "num");
  EXPECT_EQ(
      refused(R"({"v":1,"op":"create","repo":"r","num":-1,"title":"t","order":"a0"})").message,
      "\"num\" is not a non-negative integer");
  EXPECT_EQ(
      refused(R"({"v":1,"op":"create","repo":"r","num":1.5,"title":"t","order":"a0"})").reason,
      "malformed");
}

TEST(IssuesOps, SizeAndDepthLimits) {
  std::string big = with(R"("op":"comment","body":")" + std::string(kMaxPayload, 'x') + "\"");
  EXPECT_EQ(refused(big).reason, "size");
  std::string deep(100, '[');
  EXPECT_EQ(refused(deep + std::string(100, ']')).reason, "malformed");
  std::vector<std::string> tags(kMaxTagsPerRemove + 1, kTag);
  Op op = issue_op(Kind::remove_label, "my-app", kIssue);
  op.value = "bug";
  op.tags = tags;
  EXPECT_EQ(parse_op(encode_op(op)).problem.reason, "tags");
  // A JSON string with invalid UTF-8 is refused by the parser.
  EXPECT_EQ(refused(with("\"op\":\"comment\",\"body\":\"\xff\"")).reason, "malformed");
}

TEST(IssuesOps, EncodeForPublishChecksTheEventLimit) {
  Op op = issue_op(Kind::comment, "my-app", kIssue);
  op.body = "fine";
  Encoded ok = encode_for_publish(op);
  ASSERT_TRUE(ok) << ok.problem.message;
  EXPECT_EQ(ok.payload, encode_op(op));
  op.body = std::string(kMaxBody, '"');  // valid, but every quote is escaped as \"
  EXPECT_FALSE(validate(op));
  Encoded big = encode_for_publish(op);
  EXPECT_FALSE(big);
  EXPECT_EQ(big.problem.reason, "size");
  op.body = "";
  EXPECT_EQ(encode_for_publish(op).problem.message, "the comment is empty");
}
