namespace Polynic.Modules.Tests;

/// <summary>The C# text of the tiny modules the tests build.</summary>
internal static class ModuleSources
{
    /// <summary>A module with one personality, "toy", PCI 1234:11ab, revision from option "revision".</summary>
    public const string Toy = """
        using System;
        using Polynic.Core.Modules;
        using Polynic.Core.Nic;
        using Polynic.Core.Pci;

        [assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]

        namespace Toy;

        public sealed class ToyFactory : IPersonalityFactory
        {
            public string Name => "toy";
            public string Description => "Toy NIC (1234:11ab) built at test time";
            public IPciDevice Create(PersonalitySettings settings) =>
                new ToyDevice(settings.Nic, byte.Parse(settings.GetOption("revision", "1")));
        }

        public sealed class ToyDevice(NicSettings settings, byte revision) : NicDevice(settings)
        {
            public override PciFunctionDefinition Definition { get; } = new()
            {
                Identity = new PciIdentity(VendorId: 0x1234, DeviceId: 0x11ab, ClassCode: 0x020000, Revision: revision),
                Bars = [new BarDefinition(0, BarKind.Memory32, 4096)],
            };

            protected override void ReadRegisters(int bar, ulong offset, Span<byte> data)
            {
                // Register 0 reads the low four bytes of the MAC: proves the settings arrived.
                for (int i = 0; i < data.Length; i++)
                    data[i] = offset + (ulong)i < 4 ? Settings.Mac[(int)offset + i] : (byte)0;
            }

            protected override void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data) { }
            protected override void ResetDevice() { }
            protected override void ReceiveFrame(ReadOnlySpan<byte> frame) { }
        }
        """;

    /// <summary>A valid module whose single factory throws in its constructor.</summary>
    public const string ThrowingFactory = """
        using System;
        using Polynic.Core.Modules;
        using Polynic.Core.Pci;

        [assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]

        public sealed class BrokenFactory : IPersonalityFactory
        {
            public BrokenFactory() => throw new InvalidOperationException("licence file /etc/broken.lic missing");
            public string Name => "broken";
            public string Description => "never constructed";
            public IPciDevice Create(PersonalitySettings settings) => throw new NotSupportedException();
        }
        """;

    /// <summary>A module that declares SDK 2.0.</summary>
    public const string FutureSdk = """
        using System;
        using Polynic.Core.Modules;
        using Polynic.Core.Pci;

        [assembly: PolynicModule(2, 0)]

        public sealed class FutureFactory : IPersonalityFactory
        {
            public FutureFactory() => throw new InvalidOperationException("must never run: the module is refused first");
            public string Name => "future";
            public string Description => "from SDK 2";
            public IPciDevice Create(PersonalitySettings settings) => throw new NotSupportedException();
        }
        """;

    /// <summary>A module with a second personality named "toy": conflicts with <see cref="Toy"/>.</summary>
    public const string ToyImpostor = """
        using System;
        using Polynic.Core.Modules;
        using Polynic.Core.Pci;

        [assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]

        public sealed class ImpostorFactory : IPersonalityFactory
        {
            public string Name => "TOY";
            public string Description => "claims a taken name";
            public IPciDevice Create(PersonalitySettings settings) => throw new NotSupportedException();
        }
        """;

    /// <summary>
    /// A source module with one error: <c>helo</c>, an unknown name, on line 9 at column 35
    /// (both 1-based).
    /// </summary>
    public const string CompileError =
        "using System;\n" +                                                      // 1
        "using Polynic.Core.Modules;\n" +                                        // 2
        "using Polynic.Core.Pci;\n" +                                            // 3
        "\n" +                                                                   // 4
        "[assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]\n" +      // 5
        "\n" +                                                                   // 6
        "public sealed class Greeter\n" +                                        // 7
        "{\n" +                                                                  // 8
        "    public string Text() { return helo; }\n" +                          // 9
        "}\n";                                                                   // 10

    /// <summary>The <see cref="Toy"/> module as a personality named "toy-source" (to load beside the compiled toy).</summary>
    public static string ToySource => Toy
        .Replace("\"toy\"", "\"toy-source\"")
        .Replace("namespace Toy;", "namespace ToySource;");
}
