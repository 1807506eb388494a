// Polynic runs on Linux only; tests check Unix file modes freely.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
