// Documents generated from the directive table: the example config file (and the text shared by
// every description of the keys). The man page is put together in gateway/process/man_page.cpp from these
// pieces and the command-line options.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/directives.hpp"

namespace rtmpt::config {

// The example configuration: every key at its default, under its help, type and bounds. The file
// config/rtmpt-gateway.example.yaml is this text (a unit test compares them); regenerate it with
//   ./build/gateway/rtmpt-gateway --print-example-config > config/rtmpt-gateway.example.yaml
[[nodiscard]] std::string example_yaml();

// Greedy word wrap: each line is `prefix` and as many words as fit in `width` columns (a longer word
// gets a line of its own), ended by "\n".
[[nodiscard]] std::string wrap(std::string_view text, std::string_view prefix, std::size_t width);

// How durations and sizes are written, in one paragraph.
[[nodiscard]] std::string_view units_help();

// The cross-key rules that constrain `d`, and whether a reload can change it, as sentences: "Must be at least
// session.reply_max_bytes: a reply is taken from the queue, so the queue must be able to hold one."
[[nodiscard]] std::vector<std::string> rules_for(const Directive& d);

// The items of a default as written in the table: "0.0.0.0:80" -> {"0.0.0.0:80"}, "[]" -> {}.
// Only for list types.
[[nodiscard]] std::vector<std::string> default_items(const Directive& d);

}  // namespace rtmpt::config
