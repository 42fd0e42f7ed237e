// core/jobs secrets.yml parsing and the job environment the host builds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "mesh/jobs/secrets.hpp"

namespace fs = std::filesystem;
using namespace mesh::jobs;

namespace {

EnvLookup env_of(std::map<std::string, std::string, std::less<>> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(std::string_view text) {
  auto r = parse_secrets(text, env_of({}));
  EXPECT_FALSE(r) << text;
  return r ? std::string() : r.error().message;
}

}  // namespace

TEST(JobsSecrets, ParsesValuesAndReferences) {
  auto s = parse_secrets(R"(secrets:
  TOKEN: "${SRC}"
  URL: "https://${HOST}:8/x"
  LITERAL: "$${NOT} and $HOME"
  MULTI: |
    line one
    line two
  MISSING: "${UNSET}"
  NUMBER: 12345
)",
                         env_of({{"SRC", "tok"}, {"HOST", "h"}}));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->at("TOKEN").value, "tok");
  EXPECT_EQ(s->at("URL").value, "https://h:8/x");
  EXPECT_EQ(s->at("LITERAL").value, "${NOT} and $HOME");
  EXPECT_EQ(s->at("MULTI").value, "line one\nline two\n");
  EXPECT_EQ(s->at("NUMBER").value, "12345");
  EXPECT_EQ(s->at("MISSING").value, "");
  EXPECT_EQ(s->at("MISSING").unavailable,
            "secret MISSING in secrets.yml: ${UNSET} is not set in the daemon's environment");
  EXPECT_TRUE(parse_secrets("", env_of({}))->empty());
  EXPECT_TRUE(parse_secrets("secrets:\n", env_of({}))->empty());
}

TEST(JobsSecrets, MalformedFilesSayWhere) {
  EXPECT_EQ(error_of("secrets:\n  lower: x\n"),
            "secrets.yml:2:3: secrets: 'lower' is not a secret name ([A-Z_][A-Z0-9_]*, 1-64)");
  EXPECT_EQ(error_of("other: 1\n"), "secrets.yml:1:1: unknown key 'other' (expected 'secrets')");
  EXPECT_EQ(error_of("secrets:\n  A: [1]\n"), "secrets.yml:2:3: secrets.A: expected a string");
  EXPECT_EQ(error_of("secrets:\n  A: x\n  A: y\n"), "secrets.yml:3:3: secrets: A is defined twice");
  EXPECT_EQ(error_of("secrets: [1]\n"), "secrets.yml:1:10: secrets: expected a map of NAME: value");
  EXPECT_NE(error_of("secrets: {A: \"x\"\n").find("secrets.yml:"), std::string::npos);
  EXPECT_NE(error_of("a: 1\n---\nb: 2\n").find("more than one YAML document"), std::string::npos);
  // yaml-cpp 0.7's LoadAll never returns on a stray ',' (it made empty documents until memory
  // ran out): refused with a message instead.
  EXPECT_NE(error_of("secrets:\n  A: x\n,\n").find("secrets.yml:"), std::string::npos);
  std::string many = "secrets:\n";
  for (int i = 0; i <= 256; ++i) many += "  S" + std::to_string(i) + ": x\n";
  EXPECT_NE(error_of(many).find("more than 256"), std::string::npos);
  EXPECT_NE(error_of("secrets:\n  A: \"" + std::string(16 * 1024 + 1, 'x') + "\"\n")
                .find("longer than 16 KiB"),
            std::string::npos);
  // Expansion past the limit makes only that secret unavailable.
  auto big =
      parse_secrets("secrets:\n  A: \"${V}${V}\"\n", env_of({{"V", std::string(9 * 1024, 'v')}}));
  ASSERT_TRUE(big);
  EXPECT_NE(big->at("A").unavailable.find("longer than 16 KiB"), std::string::npos);
}

TEST(JobsSecrets, TheFileMustBePrivateAndRegular) {
  auto dir = fs::temp_directory_path() / ("mesh-secrets-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto file = dir / "secrets.yml";
  EXPECT_TRUE(load_secrets_file(file, env_of({}))->empty());  // absent: no secrets
  std::ofstream(file) << "secrets:\n  A: \"value-a\"\n";
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  auto r = load_secrets_file(file, env_of({}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("(mode 0604): chmod 600 " + file.string()), std::string::npos);
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  r = load_secrets_file(file, env_of({}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->at("A").value, "value-a");
  auto link = dir / "link.yml";
  fs::create_symlink(file, link);
  r = load_secrets_file(link, env_of({}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a regular file"), std::string::npos);
  fs::remove_all(dir);
}

TEST(JobsSecrets, JobEnvironmentIsAWhitelist) {
  auto daemon = env_of({{"PATH", "/d/bin"}, {"HOME", "/home/d"}, {"PROXY", "p"}, {"SECRET", "s"}});
  auto env = job_environment({{"FOO", "bar"}, {"PATH", "/job/bin"}}, {"PROXY", "UNSET"}, daemon);
  EXPECT_EQ(env, (std::vector<std::pair<std::string, std::string>>{{"FOO", "bar"},
                                                                   {"HOME", "/home/d"},
                                                                   {"LANG", "C.UTF-8"},
                                                                   {"PATH", "/job/bin"},
                                                                   {"PROXY", "p"}}));
  env = job_environment({}, {}, env_of({}));
  EXPECT_EQ(env, (std::vector<std::pair<std::string, std::string>>{
                     {"LANG", "C.UTF-8"}, {"PATH", "/usr/local/bin:/usr/bin:/bin"}}));
}
