using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Polynic.Management.Control;
using Polynic.Modules;
using Polynic.Ports.Faults;

namespace Polynic.Management.Http;

/// <summary>A module file on the server.</summary>
/// <param name="Path">Absolute path of a .dll, .cs or .xml module on the server's file system.</param>
public sealed record ModuleFileRequest(string Path);

/// <summary>A NIC to create.</summary>
/// <param name="Spec"><c>PERSONALITY:SOCKET[,mac=..][,tap=..][,name=..][,msix=off][,OPTION=VALUE..]</c>, as for <c>serve --device</c>.</param>
public sealed record NicRequest(string Spec);

/// <summary>Faults to inject on a NIC's port.</summary>
/// <param name="Spec">As for <c>polynic nics faults</c>, e.g. <c>drop=0.01,delayMs=5</c>.</param>
public sealed record FaultsRequest(string Spec);

/// <summary>A NIC just created, and what its removal would cost.</summary>
/// <param name="Nic">The NIC.</param>
/// <param name="Warning">Null, or what goes wrong if a VMM unplugs it (a card with MSI-X aborts QEMU).</param>
public sealed record NicCreated(NicStatus Nic, string? Warning);

/// <summary>
/// The API's resources, each a thin mapping onto one <see cref="ManagementService"/> operation:
/// the control socket and this API do exactly the same things.
/// </summary>
internal static class ApiEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ManagementService service)
    {
        var api = app.MapGroup("/api/v1");
        // Every resource can answer with these (AccessPolicy's refusals, the service's errors), as problem+json.
        foreach (int status in new[] { 400, 401, 403, 404, 409, 421, 422 }) api.ProducesProblem(status);

        api.MapGet("/modules", () => TypedResults.Ok(service.ListModules()))
            .WithName("ListModules").WithSummary("Every module the server knows, loaded or failed, with its personalities and diagnostics.");
        api.MapPost("/modules", Results<Created<ModuleInfo>, ProblemHttpResult> (ModuleFileRequest request) =>
                Run(() =>
                {
                    var module = service.LoadModule(request.Path);
                    return TypedResults.Created($"/api/v1/modules/{Uri.EscapeDataString(module.Name)}", module);
                }))
            .WithName("LoadModule").WithSummary("Load a module file into the running server.");
        api.MapPost("/modules/validate", Results<Ok<ModuleInfo>, ProblemHttpResult> (ModuleFileRequest request) =>
                Run(() => TypedResults.Ok(service.ValidateModule(request.Path))))
            .WithName("ValidateModule").WithSummary("Check a module file without keeping it.");
        api.MapDelete("/modules/{name}", async Task<Results<NoContent, ProblemHttpResult>> (string name) =>
                await RunAsync(async () => { await service.UnloadModuleAsync(name); return TypedResults.NoContent(); }))
            .WithName("UnloadModule").WithSummary("Unload a module that no served NIC uses.");

        api.MapGet("/personalities", () => TypedResults.Ok(service.ListPersonalities()))
            .WithName("ListPersonalities").WithSummary("The personalities the loaded modules provide.");

        api.MapGet("/nics", () => TypedResults.Ok(service.ListNics()))
            .WithName("ListNics").WithSummary("Served NICs and NICs that failed to start.");
        api.MapGet("/nics/{name}", Results<Ok<NicStatus>, ProblemHttpResult> (string name) => Run(() => TypedResults.Ok(service.GetNic(name))))
            .WithName("GetNic").WithSummary("One NIC.");
        api.MapPost("/nics", async Task<Results<Created<NicCreated>, ProblemHttpResult>> (NicRequest request, CancellationToken cancellationToken) =>
                await RunAsync(async () =>
                {
                    var (nic, warning) = await service.AddNicAsync(request.Spec, cancellationToken);
                    return TypedResults.Created($"/api/v1/nics/{Uri.EscapeDataString(nic.Name)}", new NicCreated(nic, warning));
                }))
            .WithName("AddNic").WithSummary("Create and serve a NIC from a specification.");
        api.MapDelete("/nics/{name}", async Task<Results<Ok<RemovedNic>, ProblemHttpResult>> (string name) =>
                await RunAsync(async () => TypedResults.Ok(new RemovedNic(name, await service.RemoveNicAsync(name)))))
            .WithName("RemoveNic").WithSummary("Stop serving a NIC.");
        api.MapPut("/nics/{name}/faults", Results<Ok<FaultSettings>, ProblemHttpResult> (string name, FaultsRequest request) =>
                Run(() => TypedResults.Ok(service.SetFaults(name, request.Spec))))
            .WithName("SetNicFaults").WithSummary("Replace the faults injected on a NIC's port (the NIC must be configured with fault injection).");
    }

    private static Results<T, ProblemHttpResult> Run<T>(Func<T> operation) where T : IResult
    {
        try { return operation(); }
        catch (Exception e) when (ManagementService.Classify(e) is { } kind) { return Problem(kind, e); }
    }

    private static async Task<Results<T, ProblemHttpResult>> RunAsync<T>(Func<Task<T>> operation) where T : IResult
    {
        try { return await operation(); }
        catch (Exception e) when (ManagementService.Classify(e) is { } kind) { return Problem(kind, e); }
    }

    /// <summary>The management error as problem+json (RFC 9457) with the service's message, which names what is wrong.</summary>
    private static ProblemHttpResult Problem(ManagementError kind, Exception e)
    {
        var (status, title) = kind switch
        {
            ManagementError.NotFound => (StatusCodes.Status404NotFound, "Not found"),
            ManagementError.Conflict => (StatusCodes.Status409Conflict, "Conflicts with the server's state"),
            ManagementError.Refused => (StatusCodes.Status422UnprocessableEntity, "Refused"),
            _ => (StatusCodes.Status400BadRequest, "Invalid request"),
        };
        var extensions = e is ModuleRefusedException refused ? new Dictionary<string, object?> { ["module"] = refused.Module } : null;
        return TypedResults.Problem(e.Message, statusCode: status, title: title, extensions: extensions);
    }
}

/// <summary>A NIC no longer served.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Warning">Null, or what its removal did to a connected VMM.</param>
public sealed record RemovedNic(string Name, string? Warning);
