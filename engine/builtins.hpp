#pragma once
// The composition root: registers every built-in operator and connector. It
// lives beside main.cpp, outside the engine library, which knows no component.
namespace socstream {
void register_builtins();
}
