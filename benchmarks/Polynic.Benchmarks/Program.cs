using BenchmarkDotNet.Running;

namespace Polynic.Benchmarks;

/// <summary>
/// Micro-benchmarks of Polynic's in-process parts. Run in Release, e.g.
/// <c>dotnet run -c Release --project benchmarks/Polynic.Benchmarks -- --filter '*L2Switch*'</c>.
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
