// Linked against every installed muft module (not run): shows that the package config declares
// each module's dependencies, private ones included.
int main() {
  return 0;
}
