// A plugin Manager over a real Router, control::Registry and io_context, loading the test
// plugins of tests/plugins (MESH_TEST_PLUGIN_DIR), with helpers to call routes and verbs. For
// the tests of the ABI 1.3 host services (plugin_ui_test, plugin_jobs_test).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>
#include <variant>

#include "mesh/plugin/manager.hpp"

#ifndef MESH_TEST_PLUGIN_DIR
#error "MESH_TEST_PLUGIN_DIR must point at the built test plugins"
#endif

namespace mesh::plugin::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class PluginHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("mesh-plugin-host-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    io_thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    manager_.reset();
    work_.reset();
    io_thread_.join();
    fs::remove_all(root_);
  }

  // Makes the Manager; `edit` adds services.
  void make_manager(const std::function<void(HostServices&)>& edit = {}) {
    HostServices s{io_, router_, verbs_, root_ / "data", {}, {fs::path(MESH_TEST_PLUGIN_DIR)}};
    if (edit) edit(s);
    manager_ = std::make_unique<Manager>(std::move(s));
  }

  static config::PluginsConfig enable(std::vector<std::string> ids) {
    config::PluginsConfig c;
    c.enabled = std::move(ids);
    return c;
  }

  PluginInfo info(const std::string& id) const {
    for (const auto& i : manager_->list())
      if (i.id == id) return i;
    PluginInfo absent;
    absent.id = id;
    absent.state = "absent";
    return absent;
  }

  // A GET from loopback through the router, with the captures a pattern route matched (as the
  // server puts them into the request).
  http::Response get(const std::string& path) {
    auto found = router_->find("GET", path);
    if (!std::holds_alternative<http::Router::Match>(found))
      return http::Response{404, {}, "no route"};
    auto& match = std::get<http::Router::Match>(found);
    auto promise = std::make_shared<std::promise<http::Response>>();
    auto future = promise->get_future();
    http::Request req;
    req.method = "GET";
    req.target = path;
    req.path = path;
    req.remote = "127.0.0.1:40000";
    req.loopback = true;
    req.params = match.params;
    match.handler(std::move(req),
                  [promise](http::Response r) { promise->set_value(std::move(r)); });
    if (future.wait_for(5s) != std::future_status::ready) return http::Response{0, {}, "timeout"};
    return future.get();
  }

  control::Reply cli(const std::string& verb, std::vector<std::string> args) {
    auto promise = std::make_shared<std::promise<control::Reply>>();
    auto future = promise->get_future();
    control::Responder r;
    r.reply = [promise](control::Reply reply) { promise->set_value(std::move(reply)); };
    verbs_->dispatch(control::Call{verb, std::move(args), false}, std::move(r));
    if (future.wait_for(10s) != std::future_status::ready) return {-1, "timeout"};
    return future.get();
  }

  // Polls fn until it returns true or the deadline passes.
  static bool eventually(const std::function<bool()>& fn,
                         std::chrono::milliseconds deadline = 10s) {
    auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
      if (fn()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return fn();
  }

  fs::path root_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::thread io_thread_;
  std::shared_ptr<http::Router> router_ = std::make_shared<http::Router>();
  std::shared_ptr<control::Registry> verbs_ = std::make_shared<control::Registry>();
  std::unique_ptr<Manager> manager_;
};

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace mesh::plugin::testing
