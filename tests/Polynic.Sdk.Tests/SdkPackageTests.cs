using System.Reflection;
using Polynic.Core.Modules;

namespace Polynic.Sdk.Tests;

public sealed class SdkPackageTests
{
    [Fact]
    public void The_package_version_is_the_contract_version()
    {
        // Polynic.Core.csproj sets the package version by hand; PolynicSdk is what modules declare.
        string informational = typeof(PolynicSdk).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        var version = Version.Parse(informational.Split('+', '-')[0]);

        Assert.Equal(PolynicSdk.Major, version.Major);
        Assert.Equal(PolynicSdk.Minor, version.Minor);
        Assert.Equal(PolynicSdk.Version, $"{version.Major}.{version.Minor}");
    }
}
