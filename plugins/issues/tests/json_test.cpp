#include "issue_json.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "test_util.hpp"

using namespace mesh::issues;
using namespace mesh::issues::test;
namespace json = boost::json;

TEST(IssuesJson, KeysOfListAndShowAsCliMdSays) {
  Board board;
  Node a("mesh:aaaa");
  StoredEvent e = a.publish(create_op("my-app", 1, "<script>alert(1)</script>", "a1", {"bug"}));
  board.apply(e.view());
  Op c = issue_op(Kind::comment, "my-app", e.id());
  c.body = "hi";
  board.apply(a.publish(c).view());
  NameOf names = [](std::string_view origin) {
    return origin == "mesh:aaaa" ? std::string("alice") : std::string();
  };

  json::value list = json::parse(list_json(list_issues(board, "my-app", {}), names));
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.as_array().size(), 1u);
  const json::object& item = list.as_array()[0].as_object();
  for (const char* key :
       {"id", "num", "title", "state", "labels", "assignees", "author", "updated_ms"}) {
    EXPECT_TRUE(item.contains(key)) << key;
  }
  EXPECT_FALSE(item.contains("body"));
  EXPECT_EQ(item.at("num").to_number<std::uint64_t>(), 1u);
  EXPECT_EQ(item.at("author").as_string(), "alice");
  EXPECT_EQ(item.at("author_id").as_string(), "mesh:aaaa");
  EXPECT_EQ(item.at("title").as_string(), "<script>alert(1)</script>") << "JSON carries the text";

  Resolved r = resolve(board, "my-app", "1");
  ASSERT_TRUE(r.issue);
  json::value show = json::parse(show_json(view_of(*board.repo("my-app"), *r.issue, true), {}));
  const json::object& o = show.as_object();
  for (const char* key :
       {"id", "num", "title", "body", "state", "labels", "assignees", "author", "comments"}) {
    EXPECT_TRUE(o.contains(key)) << key;
  }
  ASSERT_EQ(o.at("comments").as_array().size(), 1u);
  const json::object& comment = o.at("comments").as_array()[0].as_object();
  for (const char* key : {"author", "body", "created_ms"}) EXPECT_TRUE(comment.contains(key));
  EXPECT_EQ(comment.at("author").as_string(), "mesh:aaaa") << "no names: the id";
}
