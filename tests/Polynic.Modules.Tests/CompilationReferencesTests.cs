using System.Runtime.InteropServices;
using Polynic.Core.Pci;

namespace Polynic.Modules.Tests;

public sealed class CompilationReferencesTests
{
    [Fact]
    public void Source_modules_compile_against_the_running_framework_and_the_sdk_only()
    {
        var framework = CompilationReferences.FrameworkPaths();
        var sdk = CompilationReferences.SdkPaths();

        Assert.Contains(framework, p => Path.GetFileName(p) == "System.Runtime.dll");
        string packs = Path.Combine(Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "../../..")), "packs", "Microsoft.NETCore.App.Ref");
        if (Directory.Exists(packs))
            Assert.All(framework, p => Assert.StartsWith(packs, p)); // the reference assemblies, as a build uses
        Assert.Equal(typeof(IPciDevice).Assembly.Location, sdk[0]);
        Assert.Contains(sdk, p => Path.GetFileName(p) == "Microsoft.Extensions.Logging.Abstractions.dll");
        Assert.DoesNotContain(sdk.Concat(framework), p => Path.GetFileName(p).StartsWith("Polynic.Modules", StringComparison.Ordinal)
            || Path.GetFileName(p).StartsWith("Polynic.Personalities", StringComparison.Ordinal));
    }
}
