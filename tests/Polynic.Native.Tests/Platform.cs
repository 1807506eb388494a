// Polynic runs on Linux only; the tests use Unix file modes freely.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
