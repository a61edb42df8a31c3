#include "proto/json.hpp"

#include <doctest/doctest.h>

#include <limits>

using namespace rtmpt::proto;

TEST_CASE("json_string quotes and escapes") {
    CHECK(json_string("") == "\"\"");
    CHECK(json_string("198.51.100.7 via=10.0.0.2:4000") == "\"198.51.100.7 via=10.0.0.2:4000\"");
    CHECK(json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(json_string("line\nnext\r\ttab") == "\"line\\nnext\\r\\ttab\"");
    CHECK(json_string(std::string_view("\0\x01\x1f\x7f", 4)) == "\"\\u0000\\u0001\\u001f\\u007f\"");
    // Bytes above 0x7f are escaped as Latin-1: the document stays valid whatever came in.
    CHECK(json_string("\xc3\xa9") == "\"\\u00c3\\u00a9\"");
}

TEST_CASE("json_number: shortest form, null for what JSON cannot say") {
    CHECK(json_number(0) == "0");
    CHECK(json_number(42) == "42");
    CHECK(json_number(1.5) == "1.5");
    CHECK(json_number(0.001) == "0.001");
    CHECK(json_number(std::numeric_limits<double>::infinity()) == "null");
    CHECK(json_number(std::numeric_limits<double>::quiet_NaN()) == "null");
}
