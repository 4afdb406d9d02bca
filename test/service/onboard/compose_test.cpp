// The compose reader and the converter's pieces: bad input gets a clear error naming the
// service and key; the small parsers (durations, quantities, images, paths, YAML scalars).

#include <gtest/gtest.h>

#include <string>

#include "service/onboard/compose.hpp"
#include "service/onboard/convert.hpp"

using namespace ferry::onboard;

namespace {

std::string error_of(const std::string& text) {
  const auto r = read_compose(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.error().message;
}

}  // namespace

TEST(ComposeReader, RefusesWhatIsNotACompose) {
  struct row {
    std::string text;
    std::string says;
  };
  const row rows[] = {
      {"services: [unclosed", "not YAML"},
      {"just a string", "not a compose file"},
      {"- a\n- b\n", "not a compose file"},
      {"version: '3'\n", "no services"},
      {"", "empty"},
      {"services:\n  web: {image: a}\n---\nservices: {}\n", "more than one YAML document"},
      {"services: {}\n", "no services to convert"},
      {"services:\n  web:\n    build: .\n    privileged: true\n", "services.web.privileged"},
      {"services:\n  web:\n    image: a\n    network_mode: host\n", "services.web.network_mode"},
      {"services:\n  web:\n    image: a\n    extends: {file: b.yml, service: x}\n",
       "services.web.extends: not supported"},
      {"services:\n  web:\n    image: a\n    ports: ['70000']\n", "services.web.ports[0]"},
      {"services:\n  web:\n    image: a\n    healthcheck: {test: [BOGUS]}\n",
       "services.web.healthcheck.test"},
      {"services:\n  web:\n    image: a\n    healthcheck: {test: [CMD, x], interval: soon}\n",
       "services.web.healthcheck.interval"},
      {"services:\n  web:\n    image: a\n    x-ferry: {prot: 80}\n", "services.web.x-ferry.prot"},
      {"services:\n  web:\n    image: a\n    deploy: {resources: {limits: {memory: lots}}}\n",
       "services.web.deploy.resources.limits.memory"},
      {"services:\n  web:\n    environment: [A=1]\n",
       "services.web: a service needs image or build"},
      {"services:\n  web:\n    image: a\n    environment: [A=1, A=2]\n", "set twice"},
      {"services:\n  web:\n    image: a\n    volumes: ['data:relative']\n", "absolute"},
      {"include: [other.yml]\nservices: {web: {image: a}}\n", "include: not supported"},
      {"services:\n  web:\n    image: a\n    frobnicate: 1\n",
       "services.web.frobnicate: unknown key"},
  };
  for (const auto& r : rows) {
    EXPECT_NE(error_of(r.text).find(r.says), std::string::npos)
        << r.text << "\n-> " << error_of(r.text);
  }
}

TEST(ComposeReader, RefusesAYamlBomb) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) {
      bomb += std::string(i ? ", " : "") + "*" + prev;
    }
    bomb += "]\n";
    prev = c;
  }
  bomb += "services:\n  web:\n    image: a\n    environment: {A: 1}\n";
  const auto e = error_of(bomb);
  EXPECT_NE(e.find("alias bomb"), std::string::npos) << e;
}

TEST(ComposeReader, RefusesTenMegabytes) {
  std::string big = "services:\n  web:\n    image: a\n# ";
  big.append(10u * 1024u * 1024u, 'x');
  const auto e = error_of(big);
  EXPECT_NE(e.find("more than 1048576"), std::string::npos) << e;
}

TEST(ComposeReader, ReadsShortAndLongSyntax) {
  const auto r = read_compose(R"(services:
  web:
    image: ghcr.io/acme/web:1.0.0
    ports: ["127.0.0.1:8080:80/udp", {target: 443, published: "8443", name: https}]
    expose: [9000]
    command: npm run "start now"
    environment: {A: "1", B: null}
    volumes: [data:/data:ro, /tmp/x, ./src:/app]
    healthcheck: {test: "curl -f http://localhost/ || exit $$?", interval: 1m30s, retries: 2}
volumes: {data: {}}
)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& s = r->services.at(0);
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0].target, 80);
  EXPECT_EQ(s.ports[0].protocol, "UDP");
  EXPECT_EQ(s.ports[0].published, 8080);
  EXPECT_EQ(s.ports[1].name, "https");
  EXPECT_EQ(s.expose, std::vector<int>{9000});
  EXPECT_EQ(s.command, (std::vector<std::string>{"npm", "run", "start now"}));
  ASSERT_EQ(s.environment.size(), 2u);
  EXPECT_FALSE(s.environment[1].value.has_value());
  ASSERT_EQ(s.volumes.size(), 3u);
  EXPECT_EQ(s.volumes[0].kind, mount_kind::named);
  EXPECT_TRUE(s.volumes[0].read_only);
  EXPECT_EQ(s.volumes[1].kind, mount_kind::anonymous);
  EXPECT_EQ(s.volumes[2].kind, mount_kind::bind);
  ASSERT_TRUE(s.health.has_value());
  EXPECT_EQ(s.health->form, health_form::shell);
  EXPECT_EQ(s.health->shell, "curl -f http://localhost/ || exit $?");
  EXPECT_EQ(s.health->interval_s, 90);
}

TEST(ComposeParsers, Durations) {
  EXPECT_EQ(parse_duration_seconds("30s"), 30);
  EXPECT_EQ(parse_duration_seconds("1m30s"), 90);
  EXPECT_EQ(parse_duration_seconds("500ms"), 1);
  EXPECT_EQ(parse_duration_seconds("2h"), 7200);
  EXPECT_EQ(parse_duration_seconds("1.5s"), 2);
  EXPECT_FALSE(parse_duration_seconds("soon"));
  EXPECT_FALSE(parse_duration_seconds("10d"));
  EXPECT_FALSE(parse_duration_seconds(""));
}

TEST(ComposeParsers, Quantities) {
  EXPECT_EQ(memory_quantity("512m"), "512Mi");
  EXPECT_EQ(memory_quantity("1G"), "1Gi");
  EXPECT_EQ(memory_quantity("1024kb"), "1024Ki");
  EXPECT_EQ(memory_quantity("2048"), "2048");
  EXPECT_FALSE(memory_quantity("lots"));
  EXPECT_EQ(cpu_quantity("0.5"), "500m");
  EXPECT_EQ(cpu_quantity("2"), "2");
  EXPECT_EQ(cpu_quantity("1.25"), "1250m");
  EXPECT_FALSE(cpu_quantity("-1"));
  EXPECT_FALSE(cpu_quantity("many"));
}

TEST(ConvertPieces, SplitImage) {
  EXPECT_EQ(split_image("ghcr.io/org/web:1.2").repository, "ghcr.io/org/web");
  EXPECT_EQ(split_image("ghcr.io/org/web:1.2").tag, "1.2");
  EXPECT_EQ(split_image("redis").tag, "latest");
  EXPECT_EQ(split_image("localhost:5000/x").repository, "localhost:5000/x");
  EXPECT_EQ(split_image("localhost:5000/x").tag, "latest");
  EXPECT_EQ(split_image("a/b:1@sha256:abc").tag, "1@sha256:abc");
}

TEST(ConvertPieces, RelativePath) {
  EXPECT_EQ(relative_path("apps/x/overlays/staging", "apps/x/base"), "../../base");
  EXPECT_EQ(relative_path("clusters/staging/x", "apps/x/base"), "../../../apps/x/base");
}

TEST(ConvertPieces, YamlScalar) {
  EXPECT_EQ(yaml_scalar("web"), "web");
  EXPECT_EQ(yaml_scalar("ghcr.io/acme/web:1.0"), "ghcr.io/acme/web:1.0");
  EXPECT_EQ(yaml_scalar(""), "\"\"");
  EXPECT_EQ(yaml_scalar("true"), "\"true\"");
  EXPECT_EQ(yaml_scalar("1.4.2"), "\"1.4.2\"");
  EXPECT_EQ(yaml_scalar("3000"), "\"3000\"");
  EXPECT_EQ(yaml_scalar("a: b"), "\"a: b\"");
  EXPECT_EQ(yaml_scalar("x #y"), "\"x #y\"");
  EXPECT_EQ(yaml_scalar("-c"), "\"-c\"");
  EXPECT_EQ(yaml_scalar("line\nbreak"), "\"line\\nbreak\"");
}

TEST(ConvertPieces, DnsLabel) {
  EXPECT_EQ(dns_label("Docs_Site"), "docs-site");
  EXPECT_EQ(dns_label("_x_"), "x");
  EXPECT_EQ(dns_label("!!"), "");
}

TEST(Convert, RefusesBadOptions) {
  options o;
  o.app = "Not A Label";
  EXPECT_FALSE(convert_text("services: {web: {image: a}}", o).ok());
  o.app = "shop";
  o.envs = {"Prod!"};
  EXPECT_FALSE(convert_text("services: {web: {image: a}}", o).ok());
}

TEST(Convert, NeverCopiesASecretValue) {
  options o;
  o.app = "shop";
  const auto c = convert_text(R"(services:
  web:
    image: ghcr.io/acme/web:1.0.0
    environment:
      API_KEY: sk_live_abcdef
      DATABASE_URL: postgres://u:hunter2@db/app
      PLAIN: visible
)",
                              o);
  ASSERT_TRUE(c.ok()) << c.error().message;
  bool plain_seen = false;
  for (const auto& f : c->files) {
    EXPECT_EQ(f.content.find("sk_live_abcdef"), std::string::npos) << f.path;
    EXPECT_EQ(f.content.find("hunter2"), std::string::npos) << f.path;
    plain_seen = plain_seen || f.content.find("visible") != std::string::npos;
  }
  EXPECT_TRUE(plain_seen);
}

TEST(ConvertPieces, ValidRepository) {
  EXPECT_TRUE(valid_repository("ghcr.io/acme/web"));
  EXPECT_TRUE(valid_repository("localhost:5000/a__b/c-d"));
  EXPECT_TRUE(valid_repository("redis"));
  EXPECT_FALSE(valid_repository("ghcr.io/acme/web."));
  EXPECT_FALSE(valid_repository("ghcr.io/Acme/web"));
  EXPECT_FALSE(valid_repository("ghcr.io//web"));
  EXPECT_FALSE(valid_repository(""));
}

TEST(Convert, RefusesARuleNameLongerThanALabel) {
  options o;
  o.app = "shop";
  const auto c = convert_text("services:\n  " + std::string(60, 'a') + ":\n    image: a\n", o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("longer than 63"), std::string::npos) << c.error().message;
}
