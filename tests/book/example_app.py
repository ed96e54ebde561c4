"""The book's example app, exactly as printed (chapter "Roll Your Own Mini-Framework")."""

# example_app.py
from bare import Bare, JSONResponse, HTMLResponse, WebSocket

app = Bare()

# In-memory store
tasks = {}


@app.on_startup
async def startup():
    print("App started. Ready to serve.")
    # Connect to database, load config, etc.


@app.on_shutdown
async def shutdown():
    print("App stopping. Cleaning up.")


@app.get("/")
async def index(request):
    return HTMLResponse("<h1>Bare Framework</h1><p>It's just callables.</p>")


@app.get("/tasks")
async def list_tasks(request):
    done = request.query("done")
    result = list(tasks.values())
    if done == "true":
        result = [t for t in result if t["done"]]
    elif done == "false":
        result = [t for t in result if not t["done"]]
    return JSONResponse(result)


@app.post("/tasks")
async def create_task(request):
    data = await request.json()
    if "title" not in data:
        return JSONResponse({"error": "title is required"}, 400)
    task = {
        "id": str(__import__("uuid").uuid4()),
        "title": data["title"],
        "done": False,
    }
    tasks[task["id"]] = task
    return JSONResponse(task, 201)


@app.get("/tasks/{task_id}")
async def get_task(request):
    task_id = request.path_params["task_id"]
    task = tasks.get(task_id)
    if not task:
        return JSONResponse({"error": "not found"}, 404)
    return JSONResponse(task)


@app.patch("/tasks/{task_id}")
async def update_task(request):
    task_id = request.path_params["task_id"]
    task = tasks.get(task_id)
    if not task:
        return JSONResponse({"error": "not found"}, 404)
    data = await request.json()
    if "done" in data:
        task["done"] = bool(data["done"])
    if "title" in data:
        task["title"] = str(data["title"])
    return JSONResponse(task)


@app.delete("/tasks/{task_id}")
async def delete_task(request):
    task_id = request.path_params["task_id"]
    if task_id not in tasks:
        return JSONResponse({"error": "not found"}, 404)
    return JSONResponse(tasks.pop(task_id))


@app.websocket("/ws")
async def chat(ws: WebSocket):
    async with ws:  # accept on enter, close on exit
        await ws.send_text("Welcome! Type messages to see them echoed.")
        while True:
            message = await ws.receive_text()
            if message is None:  # disconnect
                break
            await ws.send_json({
                "type": "echo",
                "original": message,
                "upper": message.upper(),
            })


if __name__ == "__main__":
    app.run(reload=True)
