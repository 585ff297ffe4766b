"""psw: the Persona Steering Warehouse command line and the pieces every command shares."""
