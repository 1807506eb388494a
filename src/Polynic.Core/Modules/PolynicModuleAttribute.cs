namespace Polynic.Core.Modules;

/// <summary>
/// Marks an assembly as a Polynic personality module and states the SDK version it was built
/// for. A server refuses an assembly without it, and one whose SDK version it cannot serve
/// (see <see cref="PolynicSdk.IsCompatible"/>), before running any of its code.
/// </summary>
/// <example>
/// <code>[assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]</code>
/// </example>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = false, Inherited = false)]
public sealed class PolynicModuleAttribute : Attribute
{
    /// <summary>Declares the module and the SDK version it was compiled against.</summary>
    /// <param name="sdkMajor">SDK major version; pass <see cref="PolynicSdk.Major"/>.</param>
    /// <param name="sdkMinor">SDK minor version; pass <see cref="PolynicSdk.Minor"/>.</param>
    public PolynicModuleAttribute(int sdkMajor, int sdkMinor)
    {
        SdkMajor = sdkMajor;
        SdkMinor = sdkMinor;
    }

    /// <summary>The SDK major version the module was built for.</summary>
    public int SdkMajor { get; }

    /// <summary>The SDK minor version the module was built for.</summary>
    public int SdkMinor { get; }

    /// <summary>The declared SDK version as <c>"Major.Minor"</c>.</summary>
    public string SdkVersion => $"{SdkMajor}.{SdkMinor}";
}
