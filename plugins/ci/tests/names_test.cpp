#include "names.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

using namespace mesh::ci;

TEST(CiNames, Jobs) {
  for (const char* ok : {"build", "Test_2", "a", "lint-all", "0"})
    EXPECT_TRUE(valid_job_name(ok)) << ok;
  for (const std::string& bad : std::initializer_list<std::string>{
           "", "-x", "_x", "a b", "a/b", "a.b", "é", std::string(65, 'a')}) {
    EXPECT_FALSE(valid_job_name(bad)) << bad;
  }
  EXPECT_TRUE(valid_job_name(std::string(64, 'a')));
}

TEST(CiNames, ModesLabelsRunners) {
  EXPECT_TRUE(valid_mode("shell"));
  EXPECT_TRUE(valid_mode("docker"));
  EXPECT_TRUE(valid_mode("k8s-pod"));
  EXPECT_FALSE(valid_mode("Shell"));
  EXPECT_FALSE(valid_mode("1x"));
  EXPECT_FALSE(valid_mode(std::string(33, 'a')));
  EXPECT_TRUE(valid_label("linux"));
  EXPECT_TRUE(valid_label("x86_64"));
  EXPECT_TRUE(valid_label("gpu.large"));
  EXPECT_FALSE(valid_label("-x"));
  EXPECT_FALSE(valid_label("a,b"));
  EXPECT_TRUE(valid_runner_name("shell"));
  EXPECT_TRUE(valid_runner_name("0docker-2"));
  EXPECT_FALSE(valid_runner_name("Shell"));
  EXPECT_FALSE(valid_runner_name("-a"));
}

TEST(CiNames, SecretsAndEnv) {
  EXPECT_TRUE(valid_secret_name("API_TOKEN"));
  EXPECT_TRUE(valid_secret_name("_X1"));
  EXPECT_FALSE(valid_secret_name("api_token"));
  EXPECT_FALSE(valid_secret_name("1X"));
  EXPECT_FALSE(valid_secret_name("A-B"));
  EXPECT_TRUE(valid_env_name("lower_ok"));
  EXPECT_TRUE(valid_env_name("_"));
  EXPECT_FALSE(valid_env_name("1A"));
  EXPECT_FALSE(valid_env_name("A=B"));
  EXPECT_FALSE(valid_env_name(""));
}

TEST(CiNames, Images) {
  for (const char* ok :
       {"localhost/busybox", "debian:12", "reg.example:5000/a/b:tag", "x@sha256:0123abcd"})
    EXPECT_TRUE(valid_image(ok)) << ok;
  // A leading '-' would read as an option of `docker run`.
  for (const char* bad : {"", "-v", "--privileged", "a b", "a;b", "$(x)", "a\nb"})
    EXPECT_FALSE(valid_image(bad)) << bad;
}

TEST(CiNames, RepoRefShaIds) {
  EXPECT_TRUE(valid_repo_name("my-app"));
  EXPECT_FALSE(valid_repo_name("../x"));
  EXPECT_FALSE(valid_repo_name("x.git"));
  EXPECT_TRUE(valid_ref("refs/heads/main"));
  EXPECT_TRUE(valid_ref("refs/tags/v1.0"));
  EXPECT_TRUE(valid_ref("refs/heads/release/1.2"));
  EXPECT_FALSE(valid_ref("main"));
  EXPECT_FALSE(valid_ref("refs/heads/-x"));
  EXPECT_FALSE(valid_ref("refs/heads/a..b"));
  EXPECT_TRUE(valid_sha(std::string(40, 'a')));
  EXPECT_FALSE(valid_sha(std::string(40, 'A')));
  EXPECT_FALSE(valid_sha(std::string(39, 'a')));
  EXPECT_TRUE(valid_run_id(std::string(64, '0')));
  EXPECT_FALSE(valid_run_id(std::string(64, 'g')));
  EXPECT_TRUE(valid_node_id("mesh:" + std::string(52, 'a')));
  EXPECT_TRUE(valid_node_id("mesh:" + std::string(52, '7')));
  EXPECT_FALSE(valid_node_id("mesh:" + std::string(52, '1')));
  EXPECT_FALSE(valid_node_id("mesh:" + std::string(51, 'a')));
  EXPECT_FALSE(valid_node_id(std::string(57, 'a')));
}

TEST(CiNames, BranchOf) {
  EXPECT_EQ(branch_of("refs/heads/main"), "main");
  EXPECT_EQ(branch_of("refs/heads/release/1.2"), "release/1.2");
  EXPECT_EQ(branch_of("refs/tags/v1"), "");
  EXPECT_EQ(branch_of("refs/heads/"), "");
  EXPECT_EQ(branch_of("main"), "");
}
