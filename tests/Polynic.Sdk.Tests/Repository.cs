using System.Reflection;

namespace Polynic.Sdk.Tests;

/// <summary>Where the Polynic sources are, and the configuration this test run was built in.</summary>
internal static class Repository
{
    /// <summary>The folder holding Polynic.slnx, found upward from the test assembly.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Debug or Release: the projects are packed from the build this test run uses.</summary>
    public static string Configuration { get; } =
        typeof(Repository).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    /// <summary>The Polynic.Sdk project (Polynic.Core).</summary>
    public static string SdkProject => Path.Combine(Root, "src", "Polynic.Core", "Polynic.Core.csproj");

    /// <summary>The template package project.</summary>
    public static string TemplatesProject => Path.Combine(Root, "templates", "Polynic.Templates.csproj");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Polynic.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"no Polynic.slnx above {AppContext.BaseDirectory}");
    }
}
