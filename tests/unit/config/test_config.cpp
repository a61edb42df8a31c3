#include <doctest/doctest.h>

#include <yaml-cpp/yaml.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/directives.hpp"
#include "config/values.hpp"

using namespace rtmpt::config;
using namespace std::chrono_literals;

namespace {

[[nodiscard]] LoadResult load(std::string_view yaml) {
    return load_string(yaml, "test.yaml");
}

// Every error of a load, formatted: the exact text a user would see.
[[nodiscard]] std::vector<std::string> errors_of(std::string_view yaml) {
    const LoadResult result = load(yaml);
    CHECK_FALSE(result.config);  // any error means no config
    std::vector<std::string> out;
    for (const ConfigError& e : result.errors) out.push_back(format_error(e));
    return out;
}

[[nodiscard]] Config loaded(std::string_view yaml) {
    const LoadResult result = load(yaml);
    for (const ConfigError& e : result.errors) FAIL_CHECK(format_error(e));
    REQUIRE(result.config);
    return *result.config;
}

// A file removed when the test ends.
class TempFile {
  public:
    explicit TempFile(std::string_view contents) {
        static int counter = 0;
        path_ = std::filesystem::temp_directory_path() /
                ("rtmpt-config-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".yaml");
        std::ofstream(path_, std::ios::binary) << contents;
    }
    ~TempFile() { std::filesystem::remove(path_); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    [[nodiscard]] std::string path() const { return path_.string(); }

  private:
    std::filesystem::path path_;
};

}  // namespace

TEST_CASE("defaults") {
    const Config c;
    REQUIRE(c.listen.size() == 1);
    CHECK(c.listen[0] == HostPort{"0.0.0.0", 80});
    CHECK(c.backend.address == HostPort{"127.0.0.1", 1935});
    CHECK(c.backend.connect_timeout == 5s);
    CHECK(c.session.idle_timeout == 60s);
    CHECK(c.session.max_sessions == 10'000u);
    CHECK(c.session.reply_max_bytes == 64u * 1024);
    CHECK(c.session.queue_max_bytes == 1024u * 1024);
    CHECK(c.session.idle_hold == 100ms);
    CHECK(c.session.coalesce_wait == 5ms);
    CHECK(c.http.keepalive_timeout == 120s);
    CHECK(c.http.max_header_bytes == 8u * 1024);
    CHECK(c.http.max_body_bytes == 1024u * 1024);
    CHECK(c.http.mime_type == "application/x-fcs");
    CHECK(c.http.ident2.empty());
    CHECK(c.log.level == LogLevel::info);
}

TEST_CASE("an empty file, or one with only comments, gives the defaults") {
    for (const char* yaml :
         {"", "\n\n", "# nothing here\n  # indented comment\n", "---\n", "--- # c\n...\n", "~\n", "null\n"}) {
        CAPTURE(yaml);
        CHECK(loaded(yaml) == Config{});
    }
}

TEST_CASE("sections left empty keep their defaults") {
    CHECK(loaded("backend:\nsession:\n  # idle_timeout: 5s\nhttp: {}\nlog:\n") == Config{});
}

TEST_CASE("every key parses") {
    const Config c = loaded(R"(listen:
  - "127.0.0.1:8080"
  - "[::1]:8080"
backend:
  address: media.example.org:1936
  connect_timeout: 2500ms
session:
  idle_timeout: 5m
  max_sessions: 42
  reply_max_bytes: 32KiB
  queue_max_bytes: 2MB
  idle_hold: 0
http:
  keepalive_timeout: 1h
  max_header_bytes: 16KiB
  max_body_bytes: 2MiB
  mime_type: application/octet-stream
  ident2: "hello ident"
log:
  level: debug
)");
    REQUIRE(c.listen.size() == 2);
    CHECK(c.listen[0] == HostPort{"127.0.0.1", 8080});
    CHECK(c.listen[1] == HostPort{"::1", 8080});
    CHECK(c.backend.address == HostPort{"media.example.org", 1936});
    CHECK(c.backend.connect_timeout == 2500ms);
    CHECK(c.session.idle_timeout == 5min);
    CHECK(c.session.max_sessions == 42u);
    CHECK(c.session.reply_max_bytes == 32u * 1024);
    CHECK(c.session.queue_max_bytes == 2'000'000u);
    CHECK(c.session.idle_hold == 0ms);
    CHECK(c.http.keepalive_timeout == 1h);
    CHECK(c.http.max_header_bytes == 16u * 1024);
    CHECK(c.http.max_body_bytes == 2u * 1024 * 1024);
    CHECK(c.http.mime_type == "application/octet-stream");
    CHECK(c.http.ident2 == "hello ident");
    CHECK(c.log.level == LogLevel::debug);
}

TEST_CASE("listen: a single address, flow lists, IPv6, port 0") {
    CHECK(loaded("listen: 0.0.0.0:8080\n").listen == std::vector<HostPort>{{"0.0.0.0", 8080}});
    CHECK(loaded("listen: \"[::1]:8080\"\n").listen == std::vector<HostPort>{{"::1", 8080}});
    CHECK(loaded("listen: [\"127.0.0.1:0\", \"[::]:0\"]\n").listen ==
          std::vector<HostPort>{{"127.0.0.1", 0}, {"::", 0}});
    // Port 0 twice is two sockets on two kernel-chosen ports, not a duplicate.
    CHECK(loaded("listen: [\"127.0.0.1:0\", \"127.0.0.1:0\"]\n").listen.size() == 2);
    CHECK(loaded("listen: [\"127.0.0.1:80\", \"127.0.0.1:81\", \"127.0.0.2:80\"]\n").listen.size() == 3);
}

TEST_CASE("YAML features: quoting, aliases, values on the next line, explicit null for a section") {
    const Config c = loaded(R"(backend:
  connect_timeout: &t '10s'
session:
  idle_timeout: *t
  max_sessions:
    77
http: ~
)");
    CHECK(c.backend.connect_timeout == 10s);
    CHECK(c.session.idle_timeout == 10s);
    CHECK(c.session.max_sessions == 77u);
}

TEST_CASE("unknown keys, top level and nested") {
    CHECK(errors_of("colour: red\n") == std::vector<std::string>{"test.yaml:1: colour: unknown key"});
    CHECK(errors_of("log:\n  level: info\n  colour: red\n") ==
          std::vector<std::string>{"test.yaml:3: log.colour: unknown key"});
    CHECK(errors_of("session:\n  idle_timout: 5s\n") ==
          std::vector<std::string>{
              "test.yaml:2: session.idle_timout: unknown key (did you mean session.idle_timeout?)"});
    CHECK(errors_of("\n\nidle_timeout: 5s\n") ==
          std::vector<std::string>{
              "test.yaml:3: idle_timeout: unknown key (did you mean session.idle_timeout?)"});
    // An unknown section is reported once, not once per key inside it.
    CHECK(errors_of("extras:\n  a: 1\n  b: 2\n") ==
          std::vector<std::string>{"test.yaml:1: extras: unknown key"});
    CHECK(errors_of("backend.address: 1.2.3.4:5\n") ==
          std::vector<std::string>{
              "test.yaml:1: backend.address: unknown key (write nested maps, not dotted names)"});
    CHECK(errors_of("session:\n  a.b: 1\n") ==
          std::vector<std::string>{
              "test.yaml:2: session.a.b: unknown key (write nested maps, not dotted names)"});
}

TEST_CASE("wrong types") {
    CHECK(errors_of("session:\n  idle_timeout:\n    seconds: 5\n") ==
          std::vector<std::string>{"test.yaml:2: session.idle_timeout: expected a duration, got a map"});
    CHECK(errors_of("http:\n  mime_type: [text/plain, text/html]\n") ==
          std::vector<std::string>{"test.yaml:2: http.mime_type: expected a string, got a list"});
    CHECK(errors_of("http:\n  ident2:\n") ==
          std::vector<std::string>{
              "test.yaml:2: http.ident2: expected a string, got nothing (write \"\" for an empty string)"});
    CHECK(errors_of("session:\n  max_sessions:\n") ==
          std::vector<std::string>{"test.yaml:2: session.max_sessions: expected a count, got nothing"});
    CHECK(errors_of("backend:\n  address: [1.2.3.4, 1935]\n") ==
          std::vector<std::string>{"test.yaml:2: backend.address: expected a host:port, got a list"});
    CHECK(errors_of("listen:\n  a: 1\n") ==
          std::vector<std::string>{"test.yaml:1: listen: expected a host:port list, got a map"});
    CHECK(errors_of("log:\n  level: {a: 1}\n") ==
          std::vector<std::string>{"test.yaml:2: log.level: expected a log level, got a map"});
    CHECK(
        errors_of("\nsession: 5\n") ==
        std::vector<std::string>{"test.yaml:2: session: expected a map of keys (idle_timeout, max_sessions, "
                                 "reply_max_bytes, queue_max_bytes, idle_hold, coalesce_wait, "
                                 "handshake_timeout, sequence_gap_timeout, "
                                 "sequence_base_wait, "
                                 "max_lifetime, max_bytes, "
                                 "max_sessions_per_client), got a value"});
    CHECK(errors_of("log: [debug]\n") ==
          std::vector<std::string>{
              "test.yaml:1: log: expected a map of keys (level, format, access), got a list"});
    CHECK(errors_of("? [a, b]\n: 1\n") ==
          std::vector<std::string>{"test.yaml:1: expected a key name, got a list"});
    CHECK(errors_of("http:\n  ? {a: 1}\n  : 1\n") ==
          std::vector<std::string>{"test.yaml:2: http: expected a key name, got a map"});
}

TEST_CASE("a top-level value that is not a map") {
    CHECK(errors_of("- listen\n- backend\n") ==
          std::vector<std::string>{"test.yaml:1: expected a map of keys at the top level, got a list"});
    CHECK(errors_of("# comment\nhello\n") ==
          std::vector<std::string>{"test.yaml:2: expected a map of keys at the top level, got a value"});
}

TEST_CASE("bad values: duration, size, count, log level, out of range") {
    CHECK(errors_of("session:\n  idle_timeout: abc\n") ==
          std::vector<std::string>{
              "test.yaml:2: session.idle_timeout: expected a duration like 500ms, 30s, 5m, 1h, got \"abc\""});
    CHECK(errors_of("session:\n  idle_timeout: 30\n") ==
          std::vector<std::string>{
              "test.yaml:2: session.idle_timeout: expected a duration like 500ms, 30s, 5m, 1h "
              "(a number needs a unit), got \"30\""});
    CHECK(errors_of("session:\n  idle_timeout: 0s\n") ==
          std::vector<std::string>{"test.yaml:2: session.idle_timeout: must be between 1s and 24h, got 0s"});
    CHECK(errors_of("http:\n  max_body_bytes: 1.5MiB\n") ==
          std::vector<std::string>{
              "test.yaml:2: http.max_body_bytes: expected a size like 512, 64KiB, 20MB, got \"1.5MiB\""});
    CHECK(errors_of("http:\n  max_body_bytes: 99999999999999999999GiB\n") ==
          std::vector<std::string>{
              "test.yaml:2: http.max_body_bytes: size is too large, got \"99999999999999999999GiB\""});
    CHECK(errors_of("session:\n  max_sessions: -5\n") ==
          std::vector<std::string>{"test.yaml:2: session.max_sessions: expected a whole number, got \"-5\""});
    CHECK(errors_of("session:\n  max_sessions: 1000001\n") ==
          std::vector<std::string>{
              "test.yaml:2: session.max_sessions: must be between 1 and 1000000, got 1000001"});
    CHECK(errors_of("log:\n  level: loud\n") ==
          std::vector<std::string>{
              "test.yaml:2: log.level: expected one of debug, info, warn, error, got \"loud\""});
    CHECK(errors_of("http:\n  mime_type: \"\"\n") ==
          std::vector<std::string>{"test.yaml:2: http.mime_type: must not be empty"});
    CHECK(errors_of("http:\n  ident2: \"a\\r\\nb\"\n") ==
          std::vector<std::string>{
              "test.yaml:2: http.ident2: must be printable ASCII, without control characters "
              "such as CR or LF"});
    // A value on the line after its key is reported at the value's line.
    CHECK(errors_of("session:\n  idle_hold:\n    6s\n") ==
          std::vector<std::string>{"test.yaml:3: session.idle_hold: must be between 0s and 5s, got 6s"});
}

TEST_CASE("bad host:port") {
    CHECK(errors_of("backend:\n  address: localhost\n") ==
          std::vector<std::string>{"test.yaml:2: backend.address: expected host:port like 127.0.0.1:1935 or "
                                   "[::1]:1935, got \"localhost\""});
    CHECK(errors_of("backend:\n  address: localhost:0\n") ==
          std::vector<std::string>{"test.yaml:2: backend.address: port must be between 1 and 65535, got 0"});
    CHECK(errors_of("backend:\n  address: \"::1:1935\"\n") ==
          std::vector<std::string>{"test.yaml:2: backend.address: an IPv6 address needs brackets, like "
                                   "[::1]:1935, got \"::1:1935\""});
    CHECK(errors_of("listen: 0.0.0.0:70000\n") ==
          std::vector<std::string>{"test.yaml:1: listen: port must be a number 0..65535, got \"70000\""});
}

TEST_CASE("listen list errors name the item") {
    CHECK(errors_of("listen: []\n") ==
          std::vector<std::string>{"test.yaml:1: listen: must list at least one address"});
    CHECK(errors_of("listen:\n  - 0.0.0.0:80\n  - 300.0.0.1:80\n  - [a, b]\n  - \"[::]:80\"\n") ==
          std::vector<std::string>{"test.yaml:3: listen[1]: invalid IPv4 address \"300.0.0.1\"",
                                   "test.yaml:4: listen[2]: expected a host:port, got a list"});
    CHECK(errors_of("listen:\n  - 0.0.0.0:80\n  - \"[::]:80\"\n  - 0.0.0.0:80\n") ==
          std::vector<std::string>{
              "test.yaml:4: listen[2]: duplicate address \"0.0.0.0:80\" (first at line 2)"});
    CHECK(errors_of("listen:\n  - Example.org:80\n  - example.ORG:80\n") ==
          std::vector<std::string>{
              "test.yaml:3: listen[1]: duplicate address \"example.ORG:80\" (first at line 2)"});
}

TEST_CASE("admin.listen: loopback by default, [] turns it off, errors name the item") {
    CHECK(Config{}.admin.listen == std::vector<HostPort>{{"127.0.0.1", 9180}});
    CHECK(loaded("admin:\n  listen: []\n").admin.listen.empty());
    CHECK(loaded("admin:\n  listen: \"[::1]:0\"\n").admin.listen == std::vector<HostPort>{{"::1", 0}});
    CHECK(loaded("admin:\n  listen: [\"127.0.0.1:9180\", \"[::1]:9180\"]\n").admin.listen.size() == 2);
    CHECK(errors_of("admin:\n  listen: [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n") ==
          std::vector<std::string>{
              "test.yaml:2: admin.listen[1]: duplicate address \"127.0.0.1:1\" (first at line 2)"});
    CHECK(errors_of("admin:\n  listen: {}\n") ==
          std::vector<std::string>{"test.yaml:2: admin.listen: expected a host:port list, got a map"});
    CHECK(errors_of("admin:\n  max_connections: 0\n") ==
          std::vector<std::string>{"test.yaml:2: admin.max_connections: must be between 1 and 1024, got 0"});
    const Directive* d = find_directive("admin.listen");
    REQUIRE(d != nullptr);
    CHECK(describe_bounds(*d) == "port 0..65535, may be empty");
    Config off;
    off.admin.listen.clear();
    CHECK(format_value(*d, off) == "[]");
}

TEST_CASE("duplicate keys") {
    CHECK(errors_of("log:\n  level: info\nlog:\n  level: debug\n") ==
          std::vector<std::string>{"test.yaml:3: log: duplicate key (first at line 1)"});
    CHECK(errors_of("session:\n  idle_hold: 0\n  max_sessions: 5\n  idle_hold: 1s\n") ==
          std::vector<std::string>{"test.yaml:4: session.idle_hold: duplicate key (first at line 2)"});
}

TEST_CASE("invalid YAML syntax") {
    const LoadResult r = load("session:\n  idle_timeout: [1s\n  max_sessions: 5\n");
    REQUIRE(r.errors.size() == 1);
    CHECK_FALSE(r.config);
    CHECK(r.errors[0].file == "test.yaml");
    CHECK(r.errors[0].key.empty());
    CHECK(r.errors[0].line >= 2);
    CHECK(r.errors[0].message.starts_with("invalid YAML: "));

    CHECK(errors_of("a: 1\n  b: 2\n") ==
          std::vector<std::string>{"test.yaml:2: invalid YAML: illegal map value"});
    CHECK(errors_of("a: \"\\\xff\"\n") ==
          std::vector<std::string>{"test.yaml:1: invalid YAML: unknown escape character: \\xff"});
    CHECK(errors_of("log:\n  level: *nope\n") ==
          std::vector<std::string>{"test.yaml:2: invalid YAML: the referenced anchor is not defined"});
    CHECK(errors_of("listen: [\"0.0.0.0:80\"\n") ==
          std::vector<std::string>{"test.yaml:2: invalid YAML: end of sequence flow not found"});
}

TEST_CASE("a host with a control byte is refused, not cut at it") {
    const auto errors = errors_of("backend:\n  address: \"[::1\\0evil]:1935\"\n");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].starts_with("test.yaml:2: backend.address: expected host:port"));
}

TEST_CASE("keys in errors are escaped") {
    const auto errors = errors_of("\"a\\nb\": 1\n");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find('\n') == std::string::npos);
}

TEST_CASE("more than one YAML document") {
    CHECK(errors_of("log:\n  level: info\n---\nlog:\n  level: debug\n") ==
          std::vector<std::string>{"test.yaml:4: expected one YAML document, found 2"});
    // The first document is still checked.
    CHECK(errors_of("colour: 1\n---\n{}\n") ==
          std::vector<std::string>{"test.yaml:1: colour: unknown key",
                                   "test.yaml:3: expected one YAML document, found 2"});
}

TEST_CASE("all errors of a file are reported in one run, in file order") {
    CHECK(errors_of(R"(listen: ["0.0.0.0:80", "bad"]
backend:
  address: 127.0.0.1:0
  connect_timeout: 1
  timeout: 5s
session:
  idle_timeout: 25h
  max_sessions: lots
http:
  mime_type: text
colour: blue
log:
  level: chatty
)") == std::vector<std::string>{
           "test.yaml:1: listen[1]: expected host:port like 127.0.0.1:1935 or [::1]:1935, got \"bad\"",
           "test.yaml:3: backend.address: port must be between 1 and 65535, got 0",
           "test.yaml:4: backend.connect_timeout: expected a duration like 500ms, 30s, 5m, 1h (a number "
           "needs a "
           "unit), got \"1\"",
           "test.yaml:5: backend.timeout: unknown key",
           "test.yaml:7: session.idle_timeout: must be between 1s and 24h, got 25h",
           "test.yaml:8: session.max_sessions: expected a whole number, got \"lots\"",
           "test.yaml:10: http.mime_type: expected a MIME type like application/x-fcs, got \"text\"",
           "test.yaml:11: colour: unknown key",
           "test.yaml:13: log.level: expected one of debug, info, warn, error, got \"chatty\"",
       });
}

TEST_CASE("cross-key check: queue_max_bytes >= reply_max_bytes") {
    const std::string why = ": a reply is taken from the queue, so the queue must be able to hold one";
    // Both written: the queue is blamed.
    CHECK(errors_of("session:\n  reply_max_bytes: 64KiB\n  queue_max_bytes: 32KiB\n") ==
          std::vector<std::string>{
              "test.yaml:3: session.queue_max_bytes: must be at least session.reply_max_bytes "
              "(64KiB), got 32KiB" +
              why});
    // Only the queue written, below the default reply size.
    CHECK(errors_of("session:\n  queue_max_bytes: 16KiB\n") ==
          std::vector<std::string>{
              "test.yaml:2: session.queue_max_bytes: must be at least session.reply_max_bytes "
              "(64KiB), got 16KiB" +
              why});
    // Only the reply written, above the default queue size: the reply is blamed, where it was written.
    CHECK(errors_of("\nsession:\n  reply_max_bytes: 2MiB\n") ==
          std::vector<std::string>{
              "test.yaml:3: session.reply_max_bytes: must be at most session.queue_max_bytes "
              "(1MiB), got 2MiB" +
              why});
    // Equal is fine.
    CHECK(loaded("session:\n  reply_max_bytes: 1MiB\n").session.reply_max_bytes == 1024u * 1024);
    CHECK(loaded("session:\n  reply_max_bytes: 8KiB\n  queue_max_bytes: 8KiB\n").session.queue_max_bytes ==
          8192u);
}

TEST_CASE("tls: off by default; a listener needs a certificate and a key") {
    CHECK(loaded("").tls.listen.empty());
    CHECK(errors_of("tls:\n  listen: [\"0.0.0.0:443\"]\n") ==
          std::vector<std::string>{
              "test.yaml:2: tls.certificate: is needed when tls.listen names an address",
              "test.yaml:2: tls.key: is needed when tls.listen names an address",
          });
    CHECK(errors_of("tls:\n  listen: [\"0.0.0.0:443\"]\n  certificate: /c.pem\n") ==
          std::vector<std::string>{"test.yaml:2: tls.key: is needed when tls.listen names an address"});
    const Config c = loaded("tls:\n  listen: [\"0.0.0.0:443\"]\n  certificate: /c.pem\n  key: /k.pem\n");
    CHECK(c.tls.listen.size() == 1);
    CHECK(c.tls.certificate == "/c.pem");
    CHECK(c.tls.key == "/k.pem");
    // A certificate without a listener is no error: TLS is simply off.
    CHECK(loaded("tls:\n  certificate: /c.pem\n").tls.listen.empty());
}

TEST_CASE("cross-key errors take their place in file order") {
    const auto errors = errors_of("session:\n  queue_max_bytes: 16KiB\nlog:\n  level: loud\n");
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].starts_with("test.yaml:2: session.queue_max_bytes: must be at least"));
    CHECK(errors[1].starts_with("test.yaml:4: log.level: "));
}

TEST_CASE("cross-key check is skipped when a side was already rejected") {
    CHECK(errors_of("session:\n  reply_max_bytes: huge\n  queue_max_bytes: 16KiB\n") ==
          std::vector<std::string>{
              "test.yaml:2: session.reply_max_bytes: expected a size like 512, 64KiB, 20MB, got \"huge\""});
    CHECK(errors_of("session:\n  reply_max_bytes: 16MiB\n  queue_max_bytes: 2GiB\n") ==
          std::vector<std::string>{
              "test.yaml:3: session.queue_max_bytes: must be between 4KiB and 1GiB, got 2GiB"});
    CHECK(
        errors_of("session:\n  reply_max_bytes: 16MiB\n  queue_max_bytes: 16KiB\n  queue_max_bytes: 16KiB\n")
            .size() == 1);  // the duplicate only; the first value is not compared
    CHECK(errors_of("session: [1]\n").size() == 1);
}

TEST_CASE("load_string never throws, whatever the input") {
    const std::string deep_flow(100'000, '[');
    std::string deep_block;
    for (int i = 0; i < 2000; ++i) deep_block += std::string(static_cast<std::size_t>(i), ' ') + "a:\n";
    for (const std::string& yaml :
         {std::string("{"), std::string("\0\xff\xfe", 3), std::string("%YAML 9.9\n---\na: 1\n"),
          std::string("!!binary x: y\n"), std::string("&a [*a]\n"), deep_flow, deep_block}) {
        LoadResult r;
        CHECK_NOTHROW(r = load(yaml));
        CHECK_FALSE(r.config);
        CHECK_FALSE(r.errors.empty());
    }
    CHECK(errors_of(deep_flow) == std::vector<std::string>{"test.yaml:1: invalid YAML: nested too deeply"});
}

TEST_CASE("format_error") {
    CHECK(format_error({"a.yaml", 3, "session.idle_timeout", "bad"}) ==
          "a.yaml:3: session.idle_timeout: bad");
    CHECK(format_error({"a.yaml", 3, "", "bad"}) == "a.yaml:3: bad");
    CHECK(format_error({"a.yaml", 0, "", "cannot open"}) == "a.yaml: cannot open");
    CHECK(format_error({"a.yaml", 0, "listen", "x"}) == "a.yaml: listen: x");
}

TEST_CASE("load_file: reads, names the file in errors") {
    const TempFile good("log:\n  level: warn\n");
    const LoadResult ok = load_file(good.path());
    REQUIRE(ok.config);
    CHECK(ok.config->log.level == LogLevel::warn);

    const TempFile bad("log:\n  level: loud\n");
    const LoadResult r = load_file(bad.path());
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].file == bad.path());
    CHECK(r.errors[0].line == 2);
    CHECK(r.errors[0].key == "log.level");

    const TempFile empty("");
    CHECK(load_file(empty.path()).config == Config{});
}

TEST_CASE("load_file: files that cannot be read") {
    const LoadResult missing = load_file("/nonexistent/rtmpt-gateway.yaml");
    REQUIRE(missing.errors.size() == 1);
    CHECK(format_error(missing.errors[0]) ==
          "/nonexistent/rtmpt-gateway.yaml: cannot open: No such file or directory");
    CHECK_FALSE(missing.config);

    const std::string dir = std::filesystem::temp_directory_path().string();
    const LoadResult directory = load_file(dir);
    REQUIRE(directory.errors.size() == 1);
    CHECK(format_error(directory.errors[0]) == dir + ": cannot read: Is a directory");

    const TempFile huge(std::string(1024 * 1024 + 1, '#'));
    const LoadResult big = load_file(huge.path());
    REQUIRE(big.errors.size() == 1);
    CHECK(big.errors[0].message == "file is larger than 1MiB; is it really a config file?");
    CHECK(big.errors[0].line == 0);

    const TempFile just_fits(std::string(1024 * 1024, '#'));
    CHECK(load_file(just_fits.path()).config == Config{});
}

TEST_CASE("the example config loads, holds the defaults and shows every key") {
    const LoadResult r = load_file(EXAMPLE_CONFIG);
    for (const ConfigError& e : r.errors) FAIL_CHECK(format_error(e));
    REQUIRE(r.config);
    CHECK(*r.config == Config{});

    const YAML::Node root = YAML::LoadFile(EXAMPLE_CONFIG);
    for (const Directive& d : directives()) {
        CAPTURE(d.name);
        YAML::Node node = root;
        std::string_view rest = d.name;
        while (!rest.empty()) {
            const std::size_t dot = rest.find('.');
            node.reset(node[std::string(rest.substr(0, dot))]);
            rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
            REQUIRE(node.IsDefined());
        }
    }
}

// yaml-cpp 0.7 never returns from LoadAll on these (upstream #1040); tests/fuzz/corpus keeps them.
TEST_CASE("a stray comma outside a flow collection is an error, not a hang") {
    CHECK(errors_of("[a],\n") == std::vector<std::string>{"test.yaml:1: invalid YAML: unexpected \",\""});
    CHECK(errors_of(",\n") == std::vector<std::string>{"test.yaml:1: invalid YAML: unexpected \",\""});
    CHECK(errors_of("log:\n  level: info\n---\n{a: 1},\n") ==
          std::vector<std::string>{"test.yaml:4: invalid YAML: unexpected \",\""});
}

TEST_CASE("access lists take networks, one network, or nothing") {
    const Config c = loaded(
        "access:\n  allow: [\"192.0.2.0/24\", 2001:db8::/32]\n  deny: 192.0.2.7\n  trusted_proxies: []\n");
    REQUIRE(c.access.allow.size() == 2);
    CHECK(c.access.allow[0].to_string() == "192.0.2.0/24");
    CHECK(c.access.allow[1].to_string() == "2001:db8::/32");
    REQUIRE(c.access.deny.size() == 1);
    CHECK(c.access.deny[0].to_string() == "192.0.2.7/32");
    CHECK(c.access.trusted_proxies.empty());
    const Directive* allow = find_directive("access.allow");
    REQUIRE(allow != nullptr);
    CHECK(format_value(*allow, c) == "192.0.2.0/24, 2001:db8::/32");
    CHECK(format_value(*allow, Config{}) == "[]");
    CHECK(describe_bounds(*allow) == "IP networks in CIDR notation, may be empty");
}

TEST_CASE("bad access lists name the item and the reason") {
    CHECK(errors_of("access:\n  allow:\n    - 10.0.0.0/8\n    - 10.1.2.3/8\n    - [a]\n    - ten\n") ==
          std::vector<std::string>{
              "test.yaml:4: access.allow[1]: host bits are set below the /8 prefix, got \"10.1.2.3/8\"",
              "test.yaml:5: access.allow[2]: expected a network, got a list",
              "test.yaml:6: access.allow[3]: expected an IP address or network like 10.0.0.0/8 or "
              "2001:db8::/32, got \"ten\""});
    CHECK(errors_of("access:\n  deny: 10.0.0.0/33\n") ==
          std::vector<std::string>{
              "test.yaml:2: access.deny: prefix length must be 0..32, got \"10.0.0.0/33\""});
    CHECK(errors_of("access:\n  trusted_proxies: [10.0.0.0/8, \"::ffff:10.0.0.0/104\"]\n") ==
          std::vector<std::string>{
              "test.yaml:2: access.trusted_proxies[1]: duplicate network 10.0.0.0/8 (first at line 2)"});
    CHECK(errors_of("access:\n  allow: {a: 1}\n") ==
          std::vector<std::string>{"test.yaml:2: access.allow: expected a network list, got a map"});
    CHECK(
        errors_of("access: 1\n") ==
        std::vector<std::string>{"test.yaml:1: access: expected a map of keys (allow, deny, trusted_proxies, "
                                 "proxy_protocol_from, bind_session_to_client), got a value"});
}

TEST_CASE("booleans are true or false") {
    CHECK(loaded("access:\n  bind_session_to_client: true\n").access.bind_session_to_client);
    CHECK(loaded("process:\n  allow_root: True\n").process.allow_root);
    CHECK_FALSE(loaded("process:\n  allow_root: FALSE\n").process.allow_root);
    CHECK(errors_of("process:\n  allow_root: yes\n") ==
          std::vector<std::string>{"test.yaml:2: process.allow_root: expected true or false, got \"yes\""});
    const Directive* d = find_directive("process.allow_root");
    REQUIRE(d != nullptr);
    CHECK(describe_bounds(*d) == "true|false");
    Config c;
    c.process.allow_root = true;
    CHECK(format_value(*d, c) == "true");
}

TEST_CASE("process user and group are printable names") {
    const Config c = loaded("process:\n  user: rtmpt\n  group: nogroup\n");
    CHECK(c.process.user == "rtmpt");
    CHECK(c.process.group == "nogroup");
    CHECK(errors_of("process:\n  user: \"a\\nb\"\n") ==
          std::vector<std::string>{"test.yaml:2: process.user: must be printable ASCII, without control "
                                   "characters such as CR or LF"});
}
