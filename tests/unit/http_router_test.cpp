#include <gtest/gtest.h>

#include <thread>

#include "mesh/http/router.hpp"

using namespace mesh::http;

namespace {

// A handler that answers with its own name, so tests can tell which route matched.
Handler named(std::string name) {
  return [name](Request&&, Responder respond) { respond(Response::text(200, name)); };
}

std::string which(const Router& router, std::string_view method, std::string_view path) {
  auto found = router.find(method, path);
  if (auto* miss = std::get_if<Router::Miss>(&found)) {
    return *miss == Router::Miss::not_found ? "404" : "405";
  }
  std::string got;
  std::get<Router::Match>(found).handler(Request{}, [&](Response r) { got = r.body; });
  return got;
}

}  // namespace

TEST(HttpRouter, PrefixMatchesWholeSegmentsOnly) {
  Router r;
  r.add("GET", "/repos", {}, named("repos"));
  EXPECT_EQ(which(r, "GET", "/repos"), "repos");
  EXPECT_EQ(which(r, "GET", "/repos/"), "repos");
  EXPECT_EQ(which(r, "GET", "/repos/a/b"), "repos");
  EXPECT_EQ(which(r, "GET", "/reposx"), "404");
  EXPECT_EQ(which(r, "GET", "/"), "404");
  EXPECT_EQ(which(r, "GET", "/rep"), "404");
}

TEST(HttpRouter, LongestPrefixWins) {
  Router r;
  r.add("GET", "/", {}, named("root"));
  r.add("GET", "/repos", {}, named("repos"));
  r.add("GET", "/repos/x/issues", {}, named("issues"));
  EXPECT_EQ(which(r, "GET", "/"), "root");
  EXPECT_EQ(which(r, "GET", "/anything/else"), "root");
  EXPECT_EQ(which(r, "GET", "/repos/x"), "repos");
  EXPECT_EQ(which(r, "GET", "/repos/x/issues"), "issues");
  EXPECT_EQ(which(r, "GET", "/repos/x/issues/7"), "issues");
  EXPECT_EQ(which(r, "GET", "/repos/x/issuesy"), "repos");
}

TEST(HttpRouter, MethodMismatchIs405AndStarMatchesAny) {
  Router r;
  r.add("GET", "/a", {}, named("get-a"));
  r.add("*", "/b", {}, named("any-b"));
  r.add("POST", "/b", {}, named("post-b"));
  EXPECT_EQ(which(r, "POST", "/a"), "405");
  EXPECT_EQ(which(r, "DELETE", "/a/x"), "405");
  EXPECT_EQ(which(r, "GET", "/zzz"), "404");
  EXPECT_EQ(which(r, "PUT", "/b"), "any-b");
  EXPECT_EQ(which(r, "POST", "/b"), "post-b");  // an exact method beats "*" on the same prefix
  // Methods are case-sensitive (RFC 9110).
  EXPECT_EQ(which(r, "get", "/a"), "405");
}

TEST(HttpRouter, ShorterPrefixServesMethodsALongerOneLacks) {
  Router r;
  r.add("GET", "/repos", {}, named("ui"));
  r.add("POST", "/repos/x", {}, named("push"));
  EXPECT_EQ(which(r, "POST", "/repos/x"), "push");
  EXPECT_EQ(which(r, "GET", "/repos/x"), "ui");
  EXPECT_EQ(which(r, "DELETE", "/repos/x"), "405");
}

TEST(HttpRouter, TryAddRefusesDuplicatesAndRemoveWorks) {
  Router r;
  RouteId id = 0;
  ASSERT_TRUE(r.try_add("GET", "/a", {}, named("one"), &id));
  RouteId other = 0;
  EXPECT_FALSE(r.try_add("GET", "/a", {}, named("two"), &other));
  EXPECT_EQ(which(r, "GET", "/a"), "one");
  EXPECT_TRUE(r.try_add("POST", "/a", {}, named("post"), &other));
  EXPECT_NE(id, other);
  r.remove(id);
  EXPECT_EQ(which(r, "GET", "/a"), "405");
  r.remove(other);
  EXPECT_EQ(which(r, "GET", "/a"), "404");
  r.remove(12345);  // unknown ids are ignored
}

TEST(HttpRouter, AddReplacesTheSameMethodAndPrefix) {
  Router r;
  auto first = r.add("GET", "/a", {}, named("one"));
  auto second = r.add("GET", "/a", {}, named("two"));
  EXPECT_NE(first, second);
  EXPECT_EQ(which(r, "GET", "/a"), "two");
  r.remove(first);  // the replaced route's id no longer removes anything
  EXPECT_EQ(which(r, "GET", "/a"), "two");
}

TEST(HttpRouter, FindReturnsTheRouteOptions) {
  Router r;
  r.add("POST", "/upload", RouteOptions{.max_body = 42, .access = Access::local}, named("u"));
  auto found = r.find("POST", "/upload/x");
  ASSERT_TRUE(std::holds_alternative<Router::Match>(found));
  auto& m = std::get<Router::Match>(found);
  EXPECT_EQ(m.options.max_body, 42u);
  EXPECT_EQ(m.options.access, Access::local);
}

TEST(HttpRouter, ConcurrentAddFindRemove) {
  Router r;
  r.add("GET", "/", {}, named("root"));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&r, t] {
      for (int i = 0; i < 500; ++i) {
        auto prefix = "/t" + std::to_string(t) + "/" + std::to_string(i);
        auto id = r.add("GET", prefix, {}, named(prefix));
        EXPECT_EQ(which(r, "GET", prefix + "/x"), prefix);
        r.remove(id);
        EXPECT_EQ(which(r, "GET", prefix), "root");
      }
    });
  }
  for (auto& th : threads) th.join();
}

TEST(HttpRequest, HeaderLookupIsCaseInsensitive) {
  Request req;
  req.headers = {{"Content-Type", "text/plain"}, {"X-Thing", "1"}, {"x-thing", "2"}};
  EXPECT_EQ(req.header("content-type"), "text/plain");
  EXPECT_EQ(req.header("CONTENT-TYPE"), "text/plain");
  EXPECT_EQ(req.header("x-THING"), "1");  // the first one wins
  EXPECT_EQ(req.header("missing"), "");
}

TEST(HttpResponse, TextAndJsonSetContentType) {
  auto t = Response::text(404, "nope\n");
  EXPECT_EQ(t.status, 404u);
  EXPECT_EQ(t.body, "nope\n");
  ASSERT_EQ(t.headers.size(), 1u);
  EXPECT_EQ(t.headers[0].first, "Content-Type");
  EXPECT_TRUE(t.headers[0].second.starts_with("text/plain"));
  auto j = Response::json(201, "{}");
  EXPECT_EQ(j.status, 201u);
  EXPECT_EQ(j.headers[0].second, "application/json");
}

TEST(HttpRouter, ExactRouteOnlyTakesItsOwnPathAndBeatsAPrefixRoute) {
  Router r;
  RouteOptions exact;
  exact.exact = true;
  r.add("GET", "/", exact, named("page"));
  EXPECT_EQ(which(r, "GET", "/"), "page");
  EXPECT_EQ(which(r, "GET", "/x.git/info/refs"), "404");
  // A catch-all prefix route on the same method and prefix coexists with it.
  RouteId id = 0;
  ASSERT_TRUE(r.try_add("GET", "/", {}, named("git"), &id));
  EXPECT_FALSE(r.try_add("GET", "/", exact, named("again"), nullptr));
  EXPECT_EQ(which(r, "GET", "/"), "page");
  EXPECT_EQ(which(r, "GET", "/x.git/info/refs"), "git");
  r.remove(id);
  EXPECT_EQ(which(r, "GET", "/x.git/info/refs"), "404");
}

TEST(HttpRouter, StreamRoutesAreFoundWithTheirStreamHandler) {
  Router r;
  ASSERT_TRUE(r.try_add_stream(
      "POST", "/up", {}, [](Request&&, std::shared_ptr<Exchange>) {}, nullptr));
  EXPECT_FALSE(r.try_add("POST", "/up", {}, named("dup"), nullptr));
  auto found = r.find("POST", "/up/a");
  auto* m = std::get_if<Router::Match>(&found);
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->stream);
  EXPECT_FALSE(m->handler);
}
