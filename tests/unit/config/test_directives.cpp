// Invariants of the directive table: it is data, so these checks are what keeps it honest.
#include <doctest/doctest.h>

#include <limits>
#include <set>
#include <string>

#include "config/directives.hpp"
#include "config/values.hpp"

using namespace rtmpt::config;

namespace {

// Whether the slot of `d` holds the field type its ValueType promises.
[[nodiscard]] bool slot_matches(const Directive& d, Config& c) {
    const Slot slot = d.slot(c);
    switch (d.type) {
        case ValueType::duration:
            return std::holds_alternative<Duration*>(slot);
        case ValueType::size:
            return std::holds_alternative<std::size_t*>(slot);
        case ValueType::count:
            return std::holds_alternative<std::uint32_t*>(slot);
        case ValueType::string:
            return std::holds_alternative<std::string*>(slot);
        case ValueType::host_port:
            return std::holds_alternative<HostPort*>(slot);
        case ValueType::host_port_list:
            return std::holds_alternative<std::vector<HostPort>*>(slot);
        case ValueType::boolean:
            return std::holds_alternative<bool*>(slot);
        case ValueType::network_list:
            return std::holds_alternative<std::vector<rtmpt::proto::IpNetwork>*>(slot);
        case ValueType::log_level:
            return std::holds_alternative<LogLevel*>(slot);
    }
    return false;
}

// The largest value the field behind `d` can hold, in the unit of the bounds.
[[nodiscard]] std::uint64_t field_max(const Directive& d) {
    switch (d.type) {
        case ValueType::duration:
            return static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
        case ValueType::size:
            return std::numeric_limits<std::size_t>::max();
        case ValueType::count:
            return std::numeric_limits<std::uint32_t>::max();
        case ValueType::host_port:
        case ValueType::host_port_list:
            return 65535;
        case ValueType::string:
        case ValueType::boolean:
        case ValueType::network_list:
        case ValueType::log_level:
            break;
    }
    return std::numeric_limits<std::uint64_t>::max();
}

}  // namespace

TEST_CASE("directive names are unique, dotted lowercase, and never both a key and a section") {
    std::set<std::string_view> names;
    for (const Directive& d : directives()) {
        CAPTURE(d.name);
        CHECK(names.insert(d.name).second);
        CHECK_FALSE(d.name.empty());
        for (char c : d.name)
            CHECK(((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'));
        CHECK_FALSE(is_section(d.name));
        CHECK_FALSE(d.help.empty());
        CHECK(find_directive(d.name) == &d);
    }
    CHECK(directives().size() == 45);
}

TEST_CASE("every row's slot matches its type and its bounds fit the field") {
    Config c;
    for (const Directive& d : directives()) {
        CAPTURE(d.name);
        CHECK(slot_matches(d, c));
        if (d.type != ValueType::log_level && d.type != ValueType::boolean &&
            d.type != ValueType::network_list)
            CHECK(d.min <= d.max);
        CHECK(d.max <= field_max(d));
        if (d.type != ValueType::string) CHECK(d.rule == StringRule::none);
        if (d.type != ValueType::host_port_list) CHECK_FALSE(d.may_be_empty);
    }
}

TEST_CASE("the default text of every row is what Config{} holds, and is within bounds") {
    for (const Directive& d : directives()) {
        CAPTURE(d.name);
        Config c;
        if (d.default_text == "[]") {  // an empty list is YAML, not a scalar: nothing to assign
            CHECK(is_list(d.type));
            CHECK(format_value(d, Config{}) == "[]");
            continue;
        }
        CHECK_FALSE(assign_scalar(d, d.default_text, c));
        CHECK(c == Config{});
        // And the value formatted back reads the same (the text itself may differ: "60s" vs "1m").
        CHECK_FALSE(assign_scalar(d, format_value(d, Config{}), c));
        CHECK(c == Config{});
    }
}

TEST_CASE("find_directive and is_section") {
    CHECK(find_directive("session.idle_timeout") != nullptr);
    CHECK(find_directive("session") == nullptr);
    CHECK(find_directive("idle_timeout") == nullptr);
    CHECK(find_directive("") == nullptr);
    CHECK(is_section("session"));
    CHECK(is_section("backend"));
    CHECK(is_section("http"));
    CHECK(is_section("log"));
    CHECK(is_section("access"));
    CHECK(is_section("process"));
    CHECK_FALSE(is_section("listen"));
    CHECK_FALSE(is_section("sess"));
    CHECK_FALSE(is_section("session.idle_timeout"));
    CHECK_FALSE(is_section(""));
}

TEST_CASE("cross-key rules name numeric directives") {
    REQUIRE_FALSE(at_least_rules().empty());
    for (const AtLeast& rule : at_least_rules()) {
        CAPTURE(rule.key);
        const Directive* key = find_directive(rule.key);
        const Directive* other = find_directive(rule.other);
        REQUIRE(key != nullptr);
        REQUIRE(other != nullptr);
        CHECK(key->type == other->type);
        CHECK(numeric_value(*key, Config{}) >= numeric_value(*other, Config{}));
        CHECK_FALSE(rule.why.empty());
    }
}

TEST_CASE("type_name") {
    CHECK(type_name(ValueType::duration) == "duration");
    CHECK(type_name(ValueType::size) == "size");
    CHECK(type_name(ValueType::count) == "count");
    CHECK(type_name(ValueType::string) == "string");
    CHECK(type_name(ValueType::host_port) == "host:port");
    CHECK(type_name(ValueType::host_port_list) == "host:port list");
    CHECK(type_name(ValueType::log_level) == "log level");
    CHECK(type_name(ValueType::boolean) == "boolean");
    CHECK(type_name(ValueType::network_list) == "network list");
    CHECK(type_name(static_cast<ValueType>(99)) == "?");
}
